// What every command file exports as `command`: the CLI layer's CommandSpec, bound to the Settings
// the entry reads for a database command (scripts/commands.ts), so that the CLI layer itself
// knows no server.
import type { CommandSpec } from './lib/cli/cli';
import type { Settings } from './lib/server/settings';

export type KapmanCommand<A = object, R = unknown> = CommandSpec<Settings, A, R>;

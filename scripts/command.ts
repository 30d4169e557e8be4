// What every command file exports as `command`: the CLI layer's Command, bound to the Settings
// the entry reads for a database command (scripts/commands.ts), so that the CLI layer itself
// knows no server.
import type { Command } from './lib/cli/cli';
import type { Settings } from './lib/server/settings';

export type KapmanCommand<A = object, R = unknown> = Command<Settings, A, R>;

// `npm run db:up`: bring up the development TimescaleDB. Running it twice is harmless.
import type { KapmanCommand } from './lib/cli/cli';
import { maskUrl } from './lib/server/settings';
import { dbUp, devServerOptions } from './lib/server/devServer';
export const command: KapmanCommand<{ docker?: boolean; 'pg-bin': string; port: number }, { url: string }> = {
  database: false,
  options: (y) => devServerOptions(y, { port: true }),
  run: async (args) => ({ url: maskUrl(await dbUp({ docker: args.docker, binDir: args['pg-bin'], cluster: { port: args.port } })) }),
  outcome: (r) => `ready: ${r.url}`,
};

// The end-to-end run's global setup: the tools its groups need (e2eTools.ts), then the same
// server and template as the everyday suite's.
import globalSetup from './globalSetup';
import { provisionE2eTools } from './e2eTools';

export default async function e2eGlobalSetup(): Promise<void> {
  try {
    provisionE2eTools();
  } catch (err) {
    process.stderr.write(`\nkapman tests: ${(err as Error).message}\n\n`);
    throw new Error('the end-to-end tests cannot run without their tools (see above)');
  }
  await globalSetup();
}

// Jest global teardown: stop and delete what global setup started, even when tests failed.
export default async function globalTeardown(): Promise<void> {
  await globalThis.kapmanTestServer?.stop();
  globalThis.kapmanTestServer = undefined;
}

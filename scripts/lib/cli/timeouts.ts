// The default of --lock-timeout, here in the CLI's vocabulary so that --help shows it without
// loading the driver (`kapman-db new` and every --help start faster); the sessions and the
// knexfile take it from here.

// How long any statement of the tools may wait for a lock (`--lock-timeout`).
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

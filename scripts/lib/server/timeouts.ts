// The tools' default lock bound, apart from the knexfile so that the CLI layer can show it
// without loading the driver (`kapman-db new` and every --help start faster).

// How long any statement of the tools may wait for a lock (`--lock-timeout`).
export const DEFAULT_LOCK_TIMEOUT_MS = 15_000;

// pg_dump and pg_restore are found and run by the server layer (server/clientTools.ts), so that the
// schema tools can dump a database too without calling a worker; backup and restore import them here.
export * from '../server/clientTools';

# As the timescale image's init script does: preload the library, set the telemetry level,
# restart the temporary server so the library loads, then create the extension in postgres,
# template1 (so every new database starts with it, and with a scheduler) and POSTGRES_DB.
echo "shared_preload_libraries = 'timescaledb'" >>"$PGDATA/postgresql.conf"
echo "timescaledb.telemetry_level = ${TIMESCALEDB_TELEMETRY:-basic}" >>"$PGDATA/postgresql.conf"
pg_ctl -D "$PGDATA" -m fast -w restart -o "-c listen_addresses='' -p 5432"
for db in postgres template1 "$POSTGRES_DB"; do
  psql -v ON_ERROR_STOP=1 --no-psqlrc -d "$db" -c 'CREATE EXTENSION IF NOT EXISTS timescaledb CASCADE'
done

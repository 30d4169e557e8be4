#!/usr/bin/env bash
# Makes TimescaleDB (Apache-licensed build) available to the local PostgreSQL 15,
# without Docker, on Debian 12 or 13. Idempotent: a no-op when already installed.
#
# Debian 12 packages no TimescaleDB and Debian 13 packages it only for PostgreSQL 17,
# so on both we build Debian trixie's source package against the local PostgreSQL.
# The system's apt sources are never edited: apt reads a private sources file
# holding one deb-src line, with the archive address and keyring of the system's own.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_CONFIG="$PG_BIN/pg_config"
log() { echo "install-timescaledb: $*"; }
die() { echo "install-timescaledb: error: $*" >&2; exit 1; }

[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_BIN to the PostgreSQL bin folder)"
PKGLIBDIR="$("$PG_CONFIG" --pkglibdir)"
SHAREDIR="$("$PG_CONFIG" --sharedir)"

if [ -f "$SHAREDIR/extension/timescaledb.control" ] && ls "$PKGLIBDIR"/timescaledb*.so >/dev/null 2>&1; then
  log "already installed for $("$PG_CONFIG" --version) ($(grep -o "default_version = '[^']*'" "$SHAREDIR/extension/timescaledb.control"))"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (it installs build packages and writes into $PKGLIBDIR)"

# The archive address and keyring of the system's own Debian sources (deb822 first, then one-line format).
read_system_source() {
  local f=/etc/apt/sources.list.d/debian.sources
  if [ -f "$f" ]; then
    local stanza  # the first stanza that is not the security archive
    stanza="$(awk -v RS= '!/-security/ {print; exit}' "$f")"
    URIS="$(sed -n 's/^URIs:[[:space:]]*//p' <<<"$stanza" | awk '{print $1}')"
    SIGNED_BY="$(sed -n 's/^Signed-By:[[:space:]]*//p' <<<"$stanza")"
  fi
  if [ -z "${URIS:-}" ] && [ -f /etc/apt/sources.list ]; then
    local line
    line="$(grep -E '^deb(-src)?[[:space:]]' /etc/apt/sources.list | grep -v security | head -n1 || true)"
    SIGNED_BY="$(sed -n 's/.*signed-by=\([^] ]*\).*/\1/p' <<<"$line")"
    URIS="$(sed -E 's/\[[^]]*\]//; s/^deb(-src)?[[:space:]]+//' <<<"$line" | awk '{print $1}')"
  fi
  [ -n "${URIS:-}" ] || die "could not read the Debian archive address from /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
  SIGNED_BY="${SIGNED_BY:-/usr/share/keyrings/debian-archive-keyring.gpg}"
}
read_system_source

WORK="$(mktemp -d /tmp/timescaledb-build.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/lists/partial" "$WORK/cache/archives/partial" "$WORK/src"
cat >"$WORK/trixie-src.sources" <<SRC
Types: deb-src
URIs: $URIS
Suites: trixie
Components: main
Signed-By: $SIGNED_BY
SRC
APT_OPTS=(-o "Dir::Etc::sourcelist=$WORK/trixie-src.sources" -o "Dir::Etc::sourceparts=-"
          -o "Dir::State::Lists=$WORK/lists" -o "Dir::Cache=$WORK/cache"
          -o "APT::Sandbox::User=root")  # the private folders are root's; _apt cannot read them

log "fetching the trixie source package index (private sources file, system sources untouched)"
apt-get "${APT_OPTS[@]}" -qq update
log "downloading the timescaledb source package"
(cd "$WORK/src" && apt-get "${APT_OPTS[@]}" -qq source --download-only timescaledb)
ORIG="$(ls "$WORK"/src/timescaledb_*.orig.tar.* | head -n1)"
[ -n "$ORIG" ] || die "the source package has no upstream tarball"
log "unpacking $(basename "$ORIG")"
mkdir -p "$WORK/tree" && tar -xf "$ORIG" -C "$WORK/tree" --strip-components=1

# Only what is missing: the server headers and PGXS of this PostgreSQL, and cmake.
NEED=()
[ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] && [ -f "$("$PG_CONFIG" --pgxs)" ] || NEED+=(postgresql-server-dev-15)
command -v cmake >/dev/null || NEED+=(cmake)
if [ "${#NEED[@]}" -gt 0 ]; then
  log "installing build dependencies: ${NEED[*]}"
  apt-get -qq update  # a machine's package lists may be missing or stale
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${NEED[@]}" >/dev/null ||
    die "could not install ${NEED[*]} (on Debian 13 the PostgreSQL 15 headers come from where PostgreSQL 15 came from)"
fi

log "building against $("$PG_CONFIG" --version)"
cd "$WORK/tree"
./bootstrap -DAPACHE_ONLY=1 -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
  -DPG_CONFIG="$PG_CONFIG" >"$WORK/bootstrap.log" 2>&1 || { tail -n 30 "$WORK/bootstrap.log" >&2; die "bootstrap failed"; }
make -C build -j"$(nproc)" >"$WORK/make.log" 2>&1 || { tail -n 30 "$WORK/make.log" >&2; die "build failed"; }
make -C build install >"$WORK/install.log" 2>&1 || { tail -n 30 "$WORK/install.log" >&2; die "install failed"; }
log "installed into $PKGLIBDIR ($(grep -o "default_version = '[^']*'" "$SHAREDIR/extension/timescaledb.control"))"
log "a server must preload it: shared_preload_libraries = 'timescaledb'"

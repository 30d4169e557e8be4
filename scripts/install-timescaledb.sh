#!/usr/bin/env bash
# Makes TimescaleDB available to the local PostgreSQL 15, without Docker, on Debian 12 or 13.
#
#   TIMESCALEDB_SOURCE=<tarball or folder> bash scripts/install-timescaledb.sh
#     builds TimescaleDB from that source WITH its TSL part: the community build, as the
#     timescale/timescaledb image has it (compression, retention and compression policies,
#     continuous aggregates). A tarball's build is kept under $TIMESCALEDB_CACHE (default
#     /var/cache/kapman-timescaledb), by the tarball's sha256 and the PostgreSQL version it was
#     built against, and reused: a second install of it copies it instead of building again.
#   bash scripts/install-timescaledb.sh
#     builds Debian trixie's source package: the Apache-licensed build (Debian strips tsl/),
#     where compression and policies are refused.
#
# Idempotent: a no-op when the build asked for is there (without TIMESCALEDB_SOURCE, any build;
# with it, that version with its TSL module, timescaledb-tsl-<version>.so). It says which build it
# installed or found. Installing the build headers may upgrade PostgreSQL 15 to the archive's
# current minor version (postgresql-server-dev-15 comes at that version).
#
# Debian 12 packages no TimescaleDB and Debian 13 packages it only for PostgreSQL 17. The
# system's apt sources are never edited: apt reads a private sources file holding one deb-src
# line, with the archive address and keyring of the system's own.
set -euo pipefail

PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
PG_CONFIG="$PG_BIN/pg_config"
SOURCE="${TIMESCALEDB_SOURCE:-}"
CACHE_ROOT="${TIMESCALEDB_CACHE:-/var/cache/kapman-timescaledb}"
log() { echo "install-timescaledb: $*"; }
die() { echo "install-timescaledb: error: $*" >&2; exit 1; }

[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_BIN to the PostgreSQL bin folder)"
PKGLIBDIR="$("$PG_CONFIG" --pkglibdir)"
SHAREDIR="$("$PG_CONFIG" --sharedir)"
PG_VERSION="$("$PG_CONFIG" --version)"  # "PostgreSQL 15.20 (Debian 15.20-0+deb12u1)"
# A build is kept per minor version: one made against newer headers may not load on an older
# server (built against 15.20, 15.18's postgres lacks heap_datum_check); the other way round works.
PG_MINOR="$(sed -E 's/^PostgreSQL ([0-9.]+).*/\1/' <<<"$PG_VERSION")"
CONTROL="$SHAREDIR/extension/timescaledb.control"

installed_version() { sed -n "s/^default_version = '\(.*\)'/\1/p" "$CONTROL" 2>/dev/null; }
# The TSL module of a version is what makes the community build; the Apache build has none.
build_of() { if [ -f "$PKGLIBDIR/timescaledb-tsl-$1.so" ]; then echo "community build (TSL)"; else echo "Apache build"; fi; }
describe_installed() { local v; v="$(installed_version)"; echo "TimescaleDB $v, $(build_of "$v"), for $PG_VERSION"; }

# The version a source declares (version.config, at the top of the tree).
source_version() {
  if [ -d "$SOURCE" ]; then sed -n 's/^version = //p' "$SOURCE/version.config"
  else tar -xOf "$SOURCE" --no-wildcards-match-slash --wildcards '*/version.config' 2>/dev/null | sed -n 's/^version = //p'; fi
}

if [ -n "$SOURCE" ]; then
  [ -e "$SOURCE" ] || die "TIMESCALEDB_SOURCE names nothing: $SOURCE"
  SOURCE="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"
  WANTED="$(source_version)" || true
  [ -n "$WANTED" ] || die "$SOURCE holds no version.config: is it TimescaleDB's source (a tarball or its folder)?"
  [ -d "$SOURCE/tsl" ] || [ -f "$SOURCE" ] || die "$SOURCE has no tsl/ folder: it is not a source with the TSL part (Debian's +dfsg source strips it)"
  if [ "$(installed_version)" = "$WANTED" ] && [ -f "$PKGLIBDIR/timescaledb-tsl-$WANTED.so" ] && [ -f "$PKGLIBDIR/timescaledb-$WANTED.so" ]; then
    log "already installed: $(describe_installed)"
    exit 0
  fi
  [ -f "$CONTROL" ] && log "installed now: $(describe_installed); $WANTED's community build was asked for"
elif [ -f "$CONTROL" ] && ls "$PKGLIBDIR"/timescaledb*.so >/dev/null 2>&1; then
  log "already installed: $(describe_installed)"
  exit 0
fi
[ "$(id -u)" = 0 ] || die "must run as root (it installs build packages and writes into $PKGLIBDIR)"

WORK="$(mktemp -d /tmp/timescaledb-build.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT

# Copies a staged build (lib/*.so, extension/*) into this PostgreSQL. Each file is written beside
# its place and renamed over it: a running server that has the old library mapped keeps it intact.
install_staged() {
  local from="$1" f dest
  for f in "$from"/lib/*.so; do
    dest="$PKGLIBDIR/$(basename "$f")"; cp "$f" "$dest.kapman-new" && mv -f "$dest.kapman-new" "$dest"
  done
  mkdir -p "$SHAREDIR/extension"
  for f in "$from"/extension/*; do
    dest="$SHAREDIR/extension/$(basename "$f")"; cp "$f" "$dest.kapman-new" && mv -f "$dest.kapman-new" "$dest"
  done
}

# Only what is missing: the server headers and PGXS of this PostgreSQL, and cmake. The headers
# come at the archive's current minor version; a build against them may not load on an older
# server, so Debian's PostgreSQL 15 is brought to the same version with them.
install_build_dependencies() {
  local need=()
  if ! { [ -f "$("$PG_CONFIG" --includedir-server)/postgres.h" ] && [ -f "$("$PG_CONFIG" --includedir)/pg_config.h" ] && [ -f "$("$PG_CONFIG" --pgxs)" ]; }; then
    need+=(postgresql-server-dev-15)
    [ "$(dpkg-query -S "$PG_BIN/postgres" 2>/dev/null | cut -d: -f1)" = postgresql-15 ] && need+=(postgresql-15)
  fi
  command -v cmake >/dev/null || need+=(cmake)
  if [ "${#need[@]}" -gt 0 ]; then
    log "installing build dependencies: ${need[*]} (PostgreSQL 15 and its headers at the archive's current minor version: this may upgrade PostgreSQL 15)"
    apt-get -qq update  # a machine's package lists may be missing or stale
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null ||
      die "could not install ${need[*]} (on Debian 13 the PostgreSQL 15 headers come from where PostgreSQL 15 came from)"
  fi
  local server headers
  server="$("$PG_BIN/postgres" --version | sed -E 's/^[^0-9]*([0-9]+\.[0-9]+).*/\1/')"
  headers="$(sed -n 's/^#define PG_VERSION "\([0-9]*\.[0-9]*\).*/\1/p' "$("$PG_CONFIG" --includedir-server)/pg_config.h")"
  if [ -n "$headers" ] && dpkg --compare-versions "$headers" gt "$server"; then
    die "the build headers are PostgreSQL $headers's and the server in $PG_BIN is $server: a build against newer headers may not load on an older server; upgrade the server (apt-get install postgresql-15), then run this again"
  fi
}

# Configures, builds and installs the tree into $WORK/stage (DESTDIR), then gathers what it
# installed into $1/lib and $1/extension.
build_into() {
  local out="$1" tree="$2"; shift 2
  install_build_dependencies
  log "building against $("$PG_CONFIG" --version) ($(nproc) cores)"
  BUILD_DIR="$WORK/build" "$tree/bootstrap" -DREGRESS_CHECKS=OFF -DTAP_CHECKS=OFF -DWARNINGS_AS_ERRORS=OFF \
    -DPG_CONFIG="$PG_CONFIG" "$@" >"$WORK/bootstrap.log" 2>&1 || { tail -n 30 "$WORK/bootstrap.log" >&2; die "bootstrap failed"; }
  make -C "$WORK/build" -j"$(nproc)" >"$WORK/make.log" 2>&1 || { tail -n 30 "$WORK/make.log" >&2; die "build failed"; }
  make -C "$WORK/build" install DESTDIR="$WORK/stage" >"$WORK/install.log" 2>&1 || { tail -n 30 "$WORK/install.log" >&2; die "install failed"; }
  mkdir -p "$out/lib" "$out/extension"
  cp "$WORK/stage$PKGLIBDIR"/timescaledb*.so "$out/lib/"
  cp "$WORK/stage$SHAREDIR"/extension/timescaledb* "$out/extension/"
}

if [ -n "$SOURCE" ]; then
  started=$SECONDS
  if [ -d "$SOURCE" ]; then
    # A folder may change between runs: built each time it is needed, never cached.
    log "building TimescaleDB $WANTED with its TSL part from $SOURCE"
    build_into "$WORK/built" "$SOURCE" -DGENERATE_DOWNGRADE_SCRIPT=OFF
    FROM="$WORK/built"
  else
    SHA="$(sha256sum "$SOURCE" | cut -d' ' -f1)"
    FROM="$CACHE_ROOT/$SHA/pg$PG_MINOR"
    if [ -f "$FROM/lib/timescaledb-tsl-$WANTED.so" ]; then
      log "reusing the build of $(basename "$SOURCE") kept in $FROM (built against $(cat "$FROM/built-against"))"
    else
      log "building TimescaleDB $WANTED with its TSL part from $(basename "$SOURCE") (sha256 ${SHA:0:12}…)"
      mkdir -p "$WORK/tree" && tar -xf "$SOURCE" -C "$WORK/tree" --strip-components=1
      # A git archive has no history to generate a downgrade script from.
      build_into "$WORK/built" "$WORK/tree" -DGENERATE_DOWNGRADE_SCRIPT=OFF
      [ -f "$WORK/built/lib/timescaledb-tsl-$WANTED.so" ] || die "the build made no timescaledb-tsl-$WANTED.so (was the TSL part left out?)"
      echo "$PG_VERSION" >"$WORK/built/built-against"
      mkdir -p "$(dirname "$FROM")" && rm -rf "$FROM.new" && cp -a "$WORK/built" "$FROM.new" && rm -rf "$FROM" && mv "$FROM.new" "$FROM"
      log "kept the build in $FROM for the next install from this tarball"
    fi
  fi
  [ -f "$FROM/lib/timescaledb-tsl-$WANTED.so" ] || die "the build made no timescaledb-tsl-$WANTED.so (was the TSL part left out?)"
  install_staged "$FROM"
  log "installed into $PKGLIBDIR in $(( SECONDS - started )) s: $(describe_installed)"
  log "a server must preload it: shared_preload_libraries = 'timescaledb' (its license is 'timescale' unless timescaledb.license says otherwise)"
  exit 0
fi

# Without a source: Debian trixie's source package, the Apache build.
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

log "no TIMESCALEDB_SOURCE: building the Apache build from Debian's source package (for the community build, set TIMESCALEDB_SOURCE to TimescaleDB's source tarball)"
log "fetching the trixie source package index (private sources file, system sources untouched)"
apt-get "${APT_OPTS[@]}" -qq update
log "downloading the timescaledb source package"
(cd "$WORK/src" && apt-get "${APT_OPTS[@]}" -qq source --download-only timescaledb)
ORIG="$(ls "$WORK"/src/timescaledb_*.orig.tar.* | head -n1)"
[ -n "$ORIG" ] || die "the source package has no upstream tarball"
log "unpacking $(basename "$ORIG")"
mkdir -p "$WORK/tree" && tar -xf "$ORIG" -C "$WORK/tree" --strip-components=1
build_into "$WORK/built" "$WORK/tree" -DAPACHE_ONLY=1
install_staged "$WORK/built"
log "installed into $PKGLIBDIR: $(describe_installed)"
log "a server must preload it: shared_preload_libraries = 'timescaledb'"

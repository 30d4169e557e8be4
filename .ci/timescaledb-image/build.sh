#!/usr/bin/env bash
# Builds CI's stand-in for the pinned TimescaleDB image, offline, in the Docker engine that
# DOCKER_HOST names, and tags it with docker-compose.yml's image so that compose and the tests'
# Testcontainers use it unchanged. A no-op when that engine already has it.
# Needs: debootstrap, the local PostgreSQL 15 with TimescaleDB (scripts/install-timescaledb.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
IMAGE="$(sed -n 's/^[[:space:]]*image:[[:space:]]*//p' "$HERE/../../docker-compose.yml" | head -n1)"
BASE=kapman-ci/bookworm-base:latest
log() { echo "ci-image: $*" >&2; }

SOURCES=/etc/apt/sources.list.d/debian.sources  # the image's apt sources: a copy of the host's
# PostgreSQL 15 as the archive has it now (its current minor, as a new machine's apt-get install
# gives it), not the host's: read from the host's package lists, from the archives the image uses.
archive_version() {
  local uris best="" v url
  uris="$(sed -n 's/^URIs:[[:space:]]*//p' "$SOURCES" | tr ' ' '\n' | sed 's:/*$::')"
  while IFS='|' read -r _ v url; do
    v="$(xargs <<<"$v")"; url="$(awk '{print $1}' <<<"$url" | sed 's:/*$::')"
    grep -qxF "$url" <<<"$uris" || continue
    if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best="$v"; fi
  done < <(apt-cache madison postgresql-15)
  echo "$best"
}
apt-get update -qq
PG_VERSION="$(archive_version)"
[ -n "$PG_VERSION" ] || { log "the archives of $SOURCES offer no postgresql-15"; exit 1; }
PKGLIB=/usr/lib/postgresql/15/lib; EXT=/usr/share/postgresql/15/extension
TSDB_VERSION="$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$EXT/timescaledb.control" 2>/dev/null)"
[ -n "$TSDB_VERSION" ] && [ -f "$PKGLIB/timescaledb-$TSDB_VERSION.so" ] || { log "no TimescaleDB in $PKGLIB: run scripts/install-timescaledb.sh first"; exit 1; }
# The pinned image is the community build; the image carries whichever the host has, and says which.
if [ -f "$PKGLIB/timescaledb-tsl-$TSDB_VERSION.so" ]; then BUILD="community build (TSL)"; else BUILD="Apache build: no timescaledb-tsl-$TSDB_VERSION.so on the host (TIMESCALEDB_SOURCE=… scripts/install-timescaledb.sh builds it)"; fi
# What the image is made of: this recipe, the PostgreSQL version it installs and the TimescaleDB build (the TSL module too).
RECIPE="$( (cat "$HERE"/Dockerfile "$HERE"/entrypoint.sh "$HERE"/000_install_timescaledb.sh; echo "$PG_VERSION"; cat "$PKGLIB"/timescaledb*.so) | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{index .Config.Labels "kapman.ci.recipe"}}' "$IMAGE" 2>/dev/null)" = "$RECIPE" ]; then
  log "$IMAGE is already built from this recipe (PostgreSQL $PG_VERSION, TimescaleDB $TSDB_VERSION, $BUILD)"; exit 0
fi

if ! docker image inspect "$BASE" >/dev/null 2>&1; then
  URIS="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources | grep -v security | head -n1)"
  ROOTFS="$(mktemp -d)"
  log "debootstrap bookworm (minbase) from $URIS"
  debootstrap --variant=minbase bookworm "$ROOTFS" "$URIS" >"$ROOTFS.log" 2>&1 || { tail -n 20 "$ROOTFS.log" >&2; exit 1; }
  tar -C "$ROOTFS" -c . | docker import - "$BASE" >/dev/null
  rm -rf "$ROOTFS" "$ROOTFS.log"
fi

CTX="$(mktemp -d)"; trap 'rm -rf "$CTX"' EXIT
cp "$HERE"/Dockerfile "$HERE"/entrypoint.sh "$HERE"/000_install_timescaledb.sh "$CTX"/
cp "$SOURCES" "$CTX"/
mkdir -p "$CTX/timescaledb/lib" "$CTX/timescaledb/extension"
cp "$PKGLIB"/timescaledb*.so "$CTX/timescaledb/lib/"  # timescaledb-tsl-*.so among them: the TSL part
cp "$EXT"/timescaledb* "$CTX/timescaledb/extension/"
chmod +x "$CTX/entrypoint.sh"
log "building $IMAGE (PostgreSQL $PG_VERSION, TimescaleDB $TSDB_VERSION from the host: $BUILD)"
docker build -q --network host --build-arg "PG_VERSION=$PG_VERSION" --label "kapman.ci.recipe=$RECIPE" -t "$IMAGE" "$CTX" >/dev/null
log "built $IMAGE"

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

PG_VERSION="$(dpkg-query -W -f='${Version}' postgresql-15)"
PKGLIB=/usr/lib/postgresql/15/lib; EXT=/usr/share/postgresql/15/extension
ls "$PKGLIB"/timescaledb*.so >/dev/null 2>&1 || { log "no TimescaleDB in $PKGLIB: run scripts/install-timescaledb.sh first"; exit 1; }
# What the image is made of: this recipe, the PostgreSQL version and the TimescaleDB build.
RECIPE="$( (cat "$HERE"/Dockerfile "$HERE"/entrypoint.sh "$HERE"/000_install_timescaledb.sh; echo "$PG_VERSION"; cat "$PKGLIB"/timescaledb*.so) | sha256sum | cut -c1-16)"
if [ "$(docker image inspect -f '{{index .Config.Labels "kapman.ci.recipe"}}' "$IMAGE" 2>/dev/null)" = "$RECIPE" ]; then
  log "$IMAGE is already built from this recipe"; exit 0
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
cp /etc/apt/sources.list.d/debian.sources "$CTX"/
mkdir -p "$CTX/timescaledb/lib" "$CTX/timescaledb/extension"
cp "$PKGLIB"/timescaledb*.so "$CTX/timescaledb/lib/"
cp "$EXT"/timescaledb* "$CTX/timescaledb/extension/"
chmod +x "$CTX/entrypoint.sh"
log "building $IMAGE (PostgreSQL $PG_VERSION, TimescaleDB from the host's build)"
docker build -q --network host --build-arg "PG_VERSION=$PG_VERSION" --label "kapman.ci.recipe=$RECIPE" -t "$IMAGE" "$CTX" >/dev/null
log "built $IMAGE"

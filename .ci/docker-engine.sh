#!/usr/bin/env bash
# CI's Docker engine: installs Debian's docker.io (the daemon) and the Compose v2 plugin when
# missing, then starts a daemon private to this run (its own socket, data and exec roots) and
# prints `export DOCKER_HOST=…` for the caller to eval. `docker-engine.sh stop` stops it.
# No registry serves images here, so nothing is pulled: .ci/timescaledb-image builds the image.
set -euo pipefail
ROOT="${KAPMAN_CI_DOCKER_ROOT:-/var/lib/kapman-ci-docker}"
SOCK="$ROOT/docker.sock"
log() { echo "ci-docker: $*" >&2; }

if [ "${1:-}" = stop ]; then
  if [ -f "$ROOT/dockerd.pid" ] && kill -0 "$(cat "$ROOT/dockerd.pid")" 2>/dev/null; then
    DOCKER_HOST="unix://$SOCK" docker ps -aq | xargs -r env DOCKER_HOST="unix://$SOCK" docker rm -f >/dev/null 2>&1 || true
    kill "$(cat "$ROOT/dockerd.pid")"
    for _ in $(seq 1 50); do kill -0 "$(cat "$ROOT/dockerd.pid")" 2>/dev/null || break; sleep 0.2; done
    log "daemon stopped"
  fi
  exit 0
fi

# A policy-rc.d that refuses every start keeps the packages from starting Debian's own services.
install_quietly() {
  local made_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  [ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d
}
if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
  log "installing docker.io and debootstrap"
  install_quietly docker.io debootstrap iptables
fi
# Debian's own docker service, if a package started one, is not ours: leave it, use our socket.

# Compose v2: Debian 12 has none; Debian 13's docker-compose package is one static binary.
PLUGIN_DIR=/usr/libexec/docker/cli-plugins
if ! DOCKER_HOST="unix://$SOCK" docker compose version >/dev/null 2>&1; then
  if ! apt-cache show docker-compose 2>/dev/null | grep -q '^Version: 2'; then
    log "fetching Debian 13's docker-compose package (the Compose v2 plugin)"
    # The system's apt sources are never edited: a private sources file with the system's archive.
    URIS="$(sed -n 's/^URIs:[[:space:]]*//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | grep -v security | head -n1)"
    URIS="${URIS:-http://deb.debian.org/debian}"
    W="$(mktemp -d)"; trap 'rm -rf "$W"' EXIT
    mkdir -p "$W/lists/partial" "$W/cache/archives/partial"
    printf 'Types: deb\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' "$URIS" >"$W/trixie.sources"
    OPTS=(-o "Dir::Etc::sourcelist=$W/trixie.sources" -o "Dir::Etc::sourceparts=-" -o "Dir::State::Lists=$W/lists"
          -o "Dir::Cache=$W/cache" -o "APT::Sandbox::User=root")
    apt-get "${OPTS[@]}" -qq update
    (cd "$W" && apt-get "${OPTS[@]}" -qq download docker-compose)
    dpkg-deb -x "$W"/docker-compose_*.deb "$W/x"
    install -D -m 0755 "$(find "$W/x" -path '*cli-plugins/docker-compose' | head -n1)" "$PLUGIN_DIR/docker-compose"
  else
    install_quietly docker-compose
  fi
fi

if [ -S "$SOCK" ] && DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1; then
  log "daemon already running at $SOCK"
else
  mkdir -p "$ROOT/data" "$ROOT/exec"
  # What a daemon that was killed left behind (a session's end kills what it started).
  pkill -f "dockerd -H unix://$SOCK" 2>/dev/null && sleep 1 || true
  rm -f "$SOCK" "$ROOT/dockerd.pid"
  # No iptables rules: published ports go through docker-proxy, the host's firewall is untouched.
  dockerd -H "unix://$SOCK" --data-root "$ROOT/data" --exec-root "$ROOT/exec" --pidfile "$ROOT/dockerd.pid" \
    --iptables=false --ip-masq=false >"$ROOT/dockerd.log" 2>&1 &
  for _ in $(seq 1 100); do DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1 && break; sleep 0.2; done
  DOCKER_HOST="unix://$SOCK" docker info >/dev/null 2>&1 || { tail -n 20 "$ROOT/dockerd.log" >&2; log "the daemon did not start"; exit 1; }
  log "daemon started at $SOCK ($(DOCKER_HOST="unix://$SOCK" docker version -f '{{.Server.Version}}'))"
fi
echo "export DOCKER_HOST=unix://$SOCK"

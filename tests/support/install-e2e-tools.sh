#!/usr/bin/env bash
# What `npm run test:e2e` needs besides PostgreSQL 15 and TimescaleDB, for Debian 12 or 13, as
# root: PgBouncer (the pooler group starts its own, as the postgres OS user, on a free port),
# openssl (the SSL group makes its certificates) and Chromium (the report's page is opened in it). Only PgBouncer's binary is wanted: a
# policy-rc.d that refuses every start keeps the package from starting Debian's pgbouncer
# service on 6432 (where systemd starts it anyway, it is stopped).
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "install-e2e-tools: run as root (or through sudo)" >&2; exit 1; }
packages=()
[ -x /usr/sbin/pgbouncer ] || packages+=(pgbouncer)
command -v openssl >/dev/null || packages+=(openssl)
[ -x /usr/bin/chromium ] || packages+=(chromium)
[ "${#packages[@]}" = 0 ] && exit 0
made_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && made_policy=1
fi
trap '[ "$made_policy" = 0 ] || rm -f /usr/sbin/policy-rc.d' EXIT
echo "install-e2e-tools: apt-get install ${packages[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
if command -v systemctl >/dev/null && systemctl is-active --quiet pgbouncer 2>/dev/null; then systemctl stop pgbouncer; fi
if pgrep -x pgbouncer >/dev/null && [ -x /etc/init.d/pgbouncer ]; then /etc/init.d/pgbouncer stop >/dev/null || true; fi

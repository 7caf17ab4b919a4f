#!/bin/sh
# Installs the programs `npm run bench` drives (Debian 12 / bookworm packages):
#   pgbouncer      the session-mode pooler sqlgate is compared against
#   sysbench       oltp_point_select / oltp_read_only against MariaDB/MySQL
#   postgresql-15  for pgbench (/usr/lib/postgresql/15/bin/pgbench)
# The databases themselves (MariaDB, PostgreSQL) are expected to run already,
# as for `npm test`. Run as root (or with sudo). The Debian pgbouncer package
# enables a system service; the bench never uses it and starts its own.
set -eu
if [ "$(id -u)" -ne 0 ]; then
  echo "bench/setup.sh: run as root (sudo bench/setup.sh)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends pgbouncer sysbench postgresql-15
# The packaged service would listen on 6432 and is not needed by the bench.
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet pgbouncer 2>/dev/null; then
  systemctl stop pgbouncer || true
fi
echo "bench prerequisites installed: $(command -v pgbouncer) $(command -v sysbench) /usr/lib/postgresql/15/bin/pgbench"

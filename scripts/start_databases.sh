#!/usr/bin/env bash
# Start PostgreSQL and MariaDB for the test suite on a Debian or Ubuntu machine, as root:
#
#     sudo bash scripts/start_databases.sh
#
# Installs a server that is missing (apt-get), starts it, lets the tests in without a password from this machine
# only (PostgreSQL: `postgres` trusted on 127.0.0.1; MariaDB: `root`@127.0.0.1 with an empty password) and creates
# a database named `test` on each, which is where the README's HEROES_DATABASE_URL examples point. Whatever
# PostgreSQL version is installed is used (the cluster on port 5432, or the newest one). Running it again changes
# nothing. Meant for a throw-away test machine or container: do not run it on a server that holds real data.
set -euo pipefail

PG_PORT=5432
MARIADB_PORT=3306

say() { printf '%s\n' "$*"; }

if [ "$(id -u)" -ne 0 ]; then
  say "start_databases.sh: run it as root (it installs and configures the database servers)" >&2
  exit 1
fi

wait_for() {  # wait_for NAME COMMAND...: up to 60 s for a server to answer
  local name=$1
  shift
  for _ in $(seq 60); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 1
  done
  say "$name did not start within 60 s" >&2
  return 1
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- PostgreSQL -------------------------------------------------------------------------------------------------
if ! command -v pg_lsclusters >/dev/null 2>&1; then
  say "Installing PostgreSQL"
  apt_install postgresql
fi

# The cluster on our port, else the newest one; none at all (some images remove it): create one.
cluster_line=$(pg_lsclusters --no-header | awk -v port="$PG_PORT" '$3 == port' | head -n 1)
if [ -z "$cluster_line" ]; then
  cluster_line=$(pg_lsclusters --no-header | sort -V | tail -n 1)
fi
if [ -z "$cluster_line" ]; then
  version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
  say "Creating PostgreSQL $version cluster main on port $PG_PORT"
  pg_createcluster --port "$PG_PORT" "$version" main >/dev/null
  cluster_line=$(pg_lsclusters --no-header | awk -v port="$PG_PORT" '$3 == port' | head -n 1)
fi
read -r pg_version pg_cluster pg_port _ <<<"$cluster_line"
if [ "$pg_port" != "$PG_PORT" ]; then
  say "PostgreSQL $pg_version/$pg_cluster listens on port $pg_port; the tests expect $PG_PORT" >&2
  exit 1
fi

# Trust `postgres` from this machine over TCP: the first matching line of pg_hba.conf wins, so it goes on top.
hba="/etc/postgresql/$pg_version/$pg_cluster/pg_hba.conf"
trust_line="host all postgres 127.0.0.1/32 trust"
if ! grep -Eq '^host[[:space:]]+all[[:space:]]+(all|postgres)[[:space:]]+127\.0\.0\.1/32[[:space:]]+trust' "$hba"; then
  say "Letting postgres in from 127.0.0.1 without a password ($hba)"
  printf '%s\n%s\n' "$trust_line" "$(cat "$hba")" >"$hba"
  if pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" status >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" reload
  fi
fi

if ! pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; then
  say "Starting PostgreSQL $pg_version/$pg_cluster"
  pg_ctlcluster --skip-systemctl-redirect "$pg_version" "$pg_cluster" start
fi
wait_for PostgreSQL pg_isready -q -h 127.0.0.1 -p "$PG_PORT"

psql_admin() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -tAc "$1"; }
if [ "$(psql_admin "SELECT 1 FROM pg_database WHERE datname = 'test'")" != "1" ]; then
  psql_admin "CREATE DATABASE test" >/dev/null
fi
say "PostgreSQL $pg_version: postgresql+asyncpg://postgres@127.0.0.1:$PG_PORT/test"

# --- MariaDB ----------------------------------------------------------------------------------------------------
if [ ! -x /usr/sbin/mariadbd ]; then
  say "Installing MariaDB"
  apt_install mariadb-server
fi

mariadb_socket() { mariadb --protocol=socket -u root "$@"; }
if ! mariadb-admin --protocol=socket -u root ping >/dev/null 2>&1; then
  say "Starting MariaDB"
  install -d -o mysql -g mysql /run/mysqld
  start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
fi
wait_for MariaDB mariadb-admin --protocol=socket -u root ping

# root over TCP from this machine with an empty password (the OS root reaches the server through its socket).
mariadb_socket -e "
  CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
  GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
  CREATE DATABASE IF NOT EXISTS test;"
wait_for "MariaDB over TCP" mariadb-admin -h 127.0.0.1 -P "$MARIADB_PORT" -u root ping
say "MariaDB $(mariadb -h 127.0.0.1 -P "$MARIADB_PORT" -u root -N -e 'SELECT VERSION()'): mysql+aiomysql://root@127.0.0.1:$MARIADB_PORT/test"

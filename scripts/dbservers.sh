#!/usr/bin/env bash
# dbservers.sh - install (if needed) and start private, loopback-only database servers
# for the test suite and the benchmark:
#   Oracle MySQL 9.7  (Debian sid package in a debootstrap root; bookworm has no MySQL)
#   MariaDB 10.11     (bookworm package)
#   PostgreSQL 15     (bookworm package)
#
# Usage:  scripts/dbservers.sh start   # installs what is missing, starts all three, writes $STATE/env
#         scripts/dbservers.sh stop
#         scripts/dbservers.sh env     # prints the export lines for the DSNs
#
# Nothing here touches a system service: each server has its own data directory under
# $SESSIONSEC_STATE (default /tmp/sessionsec-dbs) and listens on 127.0.0.1 only.
set -euo pipefail

STATE=${SESSIONSEC_STATE:-/tmp/sessionsec-dbs}
CACHE=${SESSIONSEC_CACHE:-/var/cache/sessionsec}
MYSQL_ROOT=${SESSIONSEC_MYSQL_ROOT:-$CACHE/mysql-sid-root}
MYSQL_PORT=${SESSIONSEC_MYSQL_PORT:-3307}
MARIADB_PORT=${SESSIONSEC_MARIADB_PORT:-3308}
PG_PORT=${SESSIONSEC_PG_PORT:-5433}
PG_BIN=${SESSIONSEC_PG_BIN:-/usr/lib/postgresql/15/bin}
DEBIAN_MIRROR=${SESSIONSEC_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[dbservers] %s\n' "$*" >&2; }
die() { printf '[dbservers] ERROR: %s\n' "$*" >&2; exit 1; }

apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ -z "$apt_updated" ]; then
    log "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed (is Debian's archive reachable?)"
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  # policy-rc.d keeps the packages from starting system services: we run private instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  rm -f /usr/sbin/policy-rc.d
}

wait_for() { # wait_for SECONDS DESCRIPTION CMD...
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $((secs * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  die "$what did not come up within ${secs}s"
}

install_mysql_root() {
  if [ -x "$MYSQL_ROOT/usr/sbin/mysqld" ]; then return 0; fi
  apt_install debootstrap
  log "debootstrapping Debian sid with mysql-server-core into $MYSQL_ROOT (about a minute)"
  rm -rf "$MYSQL_ROOT.tmp"; mkdir -p "$(dirname "$MYSQL_ROOT")"
  debootstrap --variant=minbase --include=mysql-server-core sid "$MYSQL_ROOT.tmp" "$DEBIAN_MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || die "debootstrap of Debian sid (for MySQL 9.7) failed; see $CACHE/debootstrap.log. Debian sid moves daily: retry, or set SESSIONSEC_MYSQL_DSN to an existing MySQL server."
  mv "$MYSQL_ROOT.tmp" "$MYSQL_ROOT"
}

start_mysql() {
  install_mysql_root
  local dir=/var/lib/sessionsec-mysql
  if mysql_ping >/dev/null 2>&1; then log "MySQL already running on $MYSQL_PORT"; return 0; fi
  mkdir -p "$MYSQL_ROOT/run/mysqld" "$STATE"
  if [ ! -d "$MYSQL_ROOT$dir/mysql" ]; then
    rm -rf "$MYSQL_ROOT$dir"; mkdir -p "$MYSQL_ROOT$dir"
    chroot "$MYSQL_ROOT" /usr/sbin/mysqld --no-defaults --initialize-insecure --user=root --datadir=$dir >"$STATE/mysql-init.log" 2>&1 \
      || die "mysqld --initialize failed; see $STATE/mysql-init.log"
  fi
  log "starting MySQL on 127.0.0.1:$MYSQL_PORT"
  # binary logging stays ON with log_bin_trust_function_creators=0, like a stock server, so that
  # the error-1419 path is real. The connection limit is raised for the many-replica tests.
  nohup chroot "$MYSQL_ROOT" /usr/sbin/mysqld --no-defaults --user=root --datadir=$dir --port="$MYSQL_PORT" \
    --bind-address=127.0.0.1 --socket=/run/mysqld/mysqld.sock --mysqlx=OFF --secure-file-priv= \
    --max-connections=500 --innodb-buffer-pool-size=1G --skip-name-resolve \
    --pid-file=/run/mysqld/mysqld.pid >"$STATE/mysql.log" 2>&1 &
  # --initialize-insecure creates root@localhost only; tests connect over TCP to 127.0.0.1.
  wait_for 120 "MySQL (socket)" mysql_socket -e 'SELECT 1'
  mysql_socket -e "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1'; GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;" \
    || die "could not create root@127.0.0.1 on MySQL"
  wait_for 30 "MySQL" mysql_ping
}
mysql_socket() { mariadb -S "$MYSQL_ROOT/run/mysqld/mysqld.sock" -uroot "$@"; }
mysql_ping() { mariadb --protocol=tcp -h127.0.0.1 -P"$MYSQL_PORT" -uroot -e 'SELECT 1'; }

start_mariadb() {
  apt_install mariadb-server mariadb-client
  if mariadb_ping >/dev/null 2>&1; then log "MariaDB already running on $MARIADB_PORT"; return 0; fi
  local dir=$STATE/mariadb
  mkdir -p "$STATE"
  if [ ! -d "$dir/mysql" ]; then
    rm -rf "$dir"; mkdir -p "$dir"; chown mysql:mysql "$dir" 2>/dev/null || true
    mariadb-install-db --no-defaults --user=root --datadir="$dir" --auth-root-authentication-method=normal >"$STATE/mariadb-init.log" 2>&1 \
      || die "mariadb-install-db failed; see $STATE/mariadb-init.log"
  fi
  log "starting MariaDB on 127.0.0.1:$MARIADB_PORT"
  nohup mariadbd --no-defaults --user=root --datadir="$dir" --port="$MARIADB_PORT" --bind-address=127.0.0.1 \
    --socket="$STATE/mariadb.sock" --pid-file="$STATE/mariadb.pid" --log-bin="$STATE/mariadb-bin" --server-id=1 \
    --max-connections=500 --innodb-buffer-pool-size=1G --skip-name-resolve >"$STATE/mariadb.log" 2>&1 &
  wait_for 60 "MariaDB" mariadb_ping
}
mariadb_ping() { mariadb --protocol=tcp -h127.0.0.1 -P"$MARIADB_PORT" -uroot -e 'SELECT 1'; }

start_postgres() {
  [ -x "$PG_BIN/initdb" ] || apt_install postgresql-15
  apt_install postgresql-client-15
  if pg_ping >/dev/null 2>&1; then log "PostgreSQL already running on $PG_PORT"; return 0; fi
  local dir=$STATE/pg
  mkdir -p "$STATE"
  id postgres >/dev/null 2>&1 || useradd -r -m postgres
  if [ ! -f "$dir/PG_VERSION" ]; then
    rm -rf "$dir"; mkdir -p "$dir"; chown postgres "$dir"
    su postgres -c "$PG_BIN/initdb -D '$dir' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >"$STATE/pg-init.log" 2>&1 \
      || die "initdb failed; see $STATE/pg-init.log"
  fi
  chown postgres "$STATE"
  log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
  su postgres -c "$PG_BIN/pg_ctl -D '$dir' -l '$STATE/pg.log' -w -t 60 -o \"-p $PG_PORT -k '$STATE' -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=512MB -c fsync=on\" start" >/dev/null \
    || die "PostgreSQL did not start; see $STATE/pg.log"
  wait_for 30 "PostgreSQL" pg_ping
}
pg_ping() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -Atc 'SELECT 1'; }

print_env() {
  cat <<ENV
export SESSIONSEC_MYSQL_DSN='root@tcp(127.0.0.1:$MYSQL_PORT)/'
export SESSIONSEC_MARIADB_DSN='root@tcp(127.0.0.1:$MARIADB_PORT)/'
export SESSIONSEC_POSTGRES_DSN='postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable'
ENV
}

stop_all() {
  [ -f "$MYSQL_ROOT/run/mysqld/mysqld.pid" ] && kill "$(cat "$MYSQL_ROOT/run/mysqld/mysqld.pid")" 2>/dev/null || true
  [ -f "$STATE/mariadb.pid" ] && kill "$(cat "$STATE/mariadb.pid")" 2>/dev/null || true
  [ -f "$STATE/pg/postmaster.pid" ] && su postgres -c "$PG_BIN/pg_ctl -D '$STATE/pg' -m fast stop" >/dev/null 2>&1 || true
}

case "${1:-start}" in
  start)
    mkdir -p "$STATE" "$CACHE"
    # One apt transaction up front: dpkg takes a lock, so the parallel starts below must not each install.
    pkgs=(mariadb-server mariadb-client postgresql-client-15)
    [ -x "$PG_BIN/initdb" ] || pkgs+=(postgresql-15)
    [ -x "$MYSQL_ROOT/usr/sbin/mysqld" ] || pkgs+=(debootstrap)
    apt_install "${pkgs[@]}"
    # The three installs are independent; MySQL's debootstrap is the slow one, so it runs beside the others.
    start_mysql & mysql_pid=$!
    start_mariadb
    start_postgres
    wait $mysql_pid || die "MySQL failed to start"
    print_env > "$STATE/env"
    log "all servers up; DSNs in $STATE/env"
    ;;
  stop) stop_all ;;
  env) print_env ;;
  *) die "usage: $0 start|stop|env" ;;
esac

#!/usr/bin/env bash
# images.sh - build the project's database images from Debian packages (no registry is reachable here)
#
#   sessionsec/mysql:9.7      Oracle MySQL 9.7   (Debian sid)
#   sessionsec/postgres:18    PostgreSQL 18      (Debian sid)
#   sessionsec/mariadb:11.8   MariaDB 11.8       (Debian trixie)
#   sessionsec/postgres:17    PostgreSQL 17      (Debian trixie)
#
# Usage: scripts/images.sh [build|list]
#
# Each Debian suite is debootstrapped once into $SESSIONSEC_CACHE/roots/<suite> (cached between runs), the
# servers' data directories are initialised there (so a container is ready in seconds, not the minute an
# initialisation takes on an overlay file system), and the root is imported as an image per server with
# `docker import`. The images honour the official images' environment (MYSQL_ROOT_PASSWORD,
# MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD; the MARIADB_* ones; POSTGRES_USER, POSTGRES_PASSWORD,
# POSTGRES_DB) and print the readiness lines testcontainers-go's modules wait for.
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE=${SESSIONSEC_CACHE:-/var/cache/sessionsec}
ROOTS=$CACHE/roots
MIRROR=${SESSIONSEC_DEBIAN_MIRROR:-http://deb.debian.org/debian}

log() { printf '[images] %s\n' "$*" >&2; }
die() { printf '[images] ERROR: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "no docker client"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed)"

# root SUITE PACKAGES...: a minbase debootstrap with the packages installed (services never started).
root() {
  local suite=$1; shift
  local dir=$ROOTS/$suite
  if [ -f "$dir/.sessionsec-ready" ]; then return 0; fi
  command -v debootstrap >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null || die "cannot install debootstrap"; }
  log "debootstrapping Debian $suite into $dir (a minute or two)"
  if mountpoint -q "$dir.tmp/proc" 2>/dev/null; then umount "$dir.tmp/proc"; fi
  rm -rf "$dir.tmp"; mkdir -p "$ROOTS"
  debootstrap --variant=minbase "$suite" "$dir.tmp" "$MIRROR" >"$ROOTS/$suite.log" 2>&1 \
    || die "debootstrap $suite failed; see $ROOTS/$suite.log (Debian $suite moves daily: retry)"
  printf '#!/bin/sh\nexit 101\n' > "$dir.tmp/usr/sbin/policy-rc.d"; chmod +x "$dir.tmp/usr/sbin/policy-rc.d"
  log "installing $* into the $suite root"
  # Some maintainer scripts (postgresql-common's systemd-tmpfiles call) need /proc.
  mount -t proc proc "$dir.tmp/proc"
  local rc=0
  chroot "$dir.tmp" /usr/bin/env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >>"$ROOTS/$suite.log" 2>&1 || rc=$?
  umount "$dir.tmp/proc"
  [ "$rc" = 0 ] || die "installing $* into $suite failed; see $ROOTS/$suite.log"
  chroot "$dir.tmp" apt-get clean
  touch "$dir.tmp/.sessionsec-ready"
  mv "$dir.tmp" "$dir"
}

# init_mysql DIR / init_mariadb DIR / init_postgres DIR VERSION: data directories inside the root.
init_mysql() {
  [ -d "$1/var/lib/mysql/mysql" ] && return 0
  rm -rf "$1/var/lib/mysql"; mkdir -p "$1/var/lib/mysql" "$1/run/mysqld"
  chroot "$1" /usr/sbin/mysqld --no-defaults --initialize-insecure --user=root --datadir=/var/lib/mysql >"$ROOTS/mysql-init.log" 2>&1 \
    || die "mysqld --initialize failed; see $ROOTS/mysql-init.log"
}
init_mariadb() {
  [ -d "$1/var/lib/mysql/mysql" ] && return 0
  rm -rf "$1/var/lib/mysql"; mkdir -p "$1/var/lib/mysql" "$1/run/mysqld"
  chroot "$1" mariadb-install-db --no-defaults --user=root --datadir=/var/lib/mysql --auth-root-authentication-method=normal >"$ROOTS/mariadb-init.log" 2>&1 \
    || die "mariadb-install-db failed; see $ROOTS/mariadb-init.log"
}
init_postgres() {
  local dir=$1 v=$2 data=/var/lib/postgresql/$2/sessionsec
  [ -f "$dir$data/PG_VERSION" ] && return 0
  mkdir -p "$dir$data" "$dir/run/postgresql"
  chroot "$dir" chown -R postgres:postgres /var/lib/postgresql /run/postgresql
  chroot "$dir" su postgres -s /bin/sh -c "/usr/lib/postgresql/$v/bin/initdb -D $data -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8" >"$ROOTS/postgres-$v-init.log" 2>&1 \
    || die "initdb $v failed; see $ROOTS/postgres-$v-init.log"
  echo "host all all 0.0.0.0/0 scram-sha-256" >> "$dir$data/pg_hba.conf"
}

# image NAME:TAG ROOT SERVER PORT VERSION: import the root with the entrypoint for one server.
image() {
  local name=$1 dir=$2 server=$3 port=$4 version=$5
  install -m 0755 scripts/image-entrypoint.sh "$dir/usr/local/bin/sessionsec-entrypoint"
  # The image is current when it was made from this root and this entrypoint.
  local stamp
  stamp=$(stat -c %Y "$dir/.sessionsec-ready")-$(sha256sum scripts/image-entrypoint.sh | cut -c1-12)
  if [ "$(docker image inspect -f '{{index .Config.Labels "sessionsec.root"}}' "$name" 2>/dev/null)" = "$stamp" ]; then
    log "$name is current"; return 0
  fi
  log "importing $name"
  tar -C "$dir" --exclude=./proc --exclude=./sys --exclude=./dev -c . | docker import \
    --change "ENTRYPOINT [\"/usr/local/bin/sessionsec-entrypoint\", \"$server\", \"$version\"]" \
    --change "EXPOSE $port" \
    --change "ENV LANG=C.UTF-8" \
    --change "LABEL sessionsec.root=$stamp" \
    - "$name" >/dev/null || die "docker import $name failed"
}

build() {
  root sid mysql-server-core mysql-client-core postgresql-18 ca-certificates
  root trixie mariadb-server mariadb-client postgresql-17
  init_mysql "$ROOTS/sid"
  init_postgres "$ROOTS/sid" 18
  init_mariadb "$ROOTS/trixie"
  init_postgres "$ROOTS/trixie" 17
  image sessionsec/mysql:9.7 "$ROOTS/sid" mysql 3306 9.7
  image sessionsec/postgres:18 "$ROOTS/sid" postgres 5432 18
  image sessionsec/mariadb:11.8 "$ROOTS/trixie" mariadb 3306 11.8
  image sessionsec/postgres:17 "$ROOTS/trixie" postgres 5432 17
  docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^sessionsec/' >&2
}

case "${1:-build}" in
  build) build ;;
  list) docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep '^sessionsec/' || true ;;
  *) die "usage: $0 build|list" ;;
esac

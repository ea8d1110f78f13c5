#!/usr/bin/env bash
# matrix.sh - the server tests once more per further server version, on the project's images.
#
# scripts/test.sh runs the whole suite on MySQL 9.7, MariaDB 10.11 and PostgreSQL 15 (scripts/dbservers.sh).
# This runs the server tests of the library and the command again on MariaDB 11.8 + PostgreSQL 17 (Debian
# trixie) and on PostgreSQL 18 (Debian sid), each in a container of the images scripts/images.sh builds,
# published on loopback only. SESSIONSEC_SERVERS restricts each run to the servers it is for (the others
# print why they skip: they had their run). Extra arguments go to `go test`.
set -euo pipefail
cd "$(dirname "$0")/.."

PW=sessionsec-matrix
log() { printf '[matrix] %s\n' "$*" >&2; }
die() { printf '[matrix] ERROR: %s\n' "$*" >&2; exit 1; }

containers=()
cleanup() { [ ${#containers[@]} -eq 0 ] || docker rm -f "${containers[@]}" >/dev/null 2>&1 || true; }
trap cleanup EXIT

# run IMAGE ENV... -- SERVER-ARGS...: start a container, print its id.
run() {
  local image=$1; shift
  local env=()
  while [ "$1" != -- ]; do env+=(-e "$1"); shift; done
  shift
  docker run -d --rm -p 127.0.0.1::"$(port_of "$image")" "${env[@]}" "$image" "$@"
}
port_of() { case $1 in *postgres*) echo 5432 ;; *) echo 3306 ;; esac; }
host_port() { docker port "$1" "$(port_of "$2")/tcp" | head -1 | sed 's/.*://'; }

wait_ready() { # NAME SECONDS CMD...
  local name=$1 secs=$2; shift 2
  for _ in $(seq 1 $((secs * 5))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$name did not answer in ${secs}s"
}

mariadb_up() { # IMAGE -> exports SESSIONSEC_MARIADB_DSN
  local id port
  id=$(run "$1" MARIADB_ROOT_PASSWORD=$PW -- --log-bin=mariadb-bin --server-id=1 --max-connections=500 --innodb-buffer-pool-size=512M)
  containers+=("$id")
  port=$(host_port "$id" "$1")
  wait_ready "$1" 120 mariadb --protocol=tcp -h127.0.0.1 -P"$port" -uroot -p"$PW" -e 'SELECT 1'
  export SESSIONSEC_MARIADB_DSN="root:$PW@tcp(127.0.0.1:$port)/"
  log "$1 on 127.0.0.1:$port"
}

postgres_up() { # IMAGE -> exports SESSIONSEC_POSTGRES_DSN
  local id port
  id=$(run "$1" POSTGRES_PASSWORD=$PW -- -c max_connections=300 -c shared_buffers=256MB)
  containers+=("$id")
  port=$(host_port "$id" "$1")
  wait_ready "$1" 120 env PGPASSWORD=$PW psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -Atc 'SELECT 1'
  export SESSIONSEC_POSTGRES_DSN="postgres://postgres:$PW@127.0.0.1:$port/postgres?sslmode=disable"
  log "$1 on 127.0.0.1:$port"
}

# counts LOG SERVER: the subtests that ran on SERVER (".../<server>" or ".../<server>/...") that passed
# and that skipped, from a -v log.
counts() {
  local pass skip
  pass=$(grep -cE -- "--- PASS: [^ ]+/$2(/[^ ]*)? " "$1" || true)
  skip=$(grep -cE -- "--- SKIP: [^ ]+/$2(/[^ ]*)? " "$1" || true)
  echo "$pass passed, $skip skipped"
}

suite() { # SERVERS LABEL
  local logfile servers
  logfile=/tmp/sessionsec-matrix-$(echo "$2" | tr -c 'A-Za-z0-9\n' '-').log
  log "server tests on $2 (go test -v output: $logfile)"
  if ! SESSIONSEC_SERVERS=$1 SESSIONSEC_REQUIRE_SERVERS=1 go test -v -p 1 -count=1 -timeout 30m "${@:3}" . ./cmd/... ./mysql ./postgres >"$logfile" 2>&1; then
    grep -E -- '^(--- FAIL|FAIL|panic)|_test.go:[0-9]+:' "$logfile" | head -50 >&2 || true
    die "server tests failed on $2 (see $logfile)"
  fi
  grep -E '^(ok|FAIL)' "$logfile" >&2 || true
  IFS=, read -ra servers <<<"$1"
  for s in "${servers[@]}"; do log "$2: $s subtests: $(counts "$logfile" "$s")"; done
  cleanup; containers=()
}

scripts/images.sh build
extra=("$@")
mariadb_up sessionsec/mariadb:11.8
postgres_up sessionsec/postgres:17
suite mariadb,postgres "MariaDB 11.8 and PostgreSQL 17" "${extra[@]}"
postgres_up sessionsec/postgres:18
suite postgres "PostgreSQL 18" "${extra[@]}"
log "the matrix passed"

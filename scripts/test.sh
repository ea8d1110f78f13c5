#!/usr/bin/env bash
# scripts/test.sh - the whole test suite, on real servers.
#
# Starts (installing on first use) Oracle MySQL 9.7, MariaDB 10.11 and PostgreSQL 15 on loopback ports
# via scripts/dbservers.sh, unless SESSIONSEC_MYSQL_DSN / SESSIONSEC_MARIADB_DSN / SESSIONSEC_POSTGRES_DSN
# already point at servers, and the topologies of scripts/topology.sh around them (Galera, PgBouncer, a
# PostgreSQL standby, a MariaDB replica) unless SESSIONSEC_GALERA_DSNS etc. are set. Server tests are
# REQUIRED here: a missing server fails the run, it is never skipped. Then it builds the project's
# database images (scripts/images.sh), runs the container helper's own tests (sessionsectest) on them,
# and runs the server tests again on the further versions of the matrix (scripts/matrix.sh: MariaDB 11.8,
# PostgreSQL 17 and 18). Extra arguments go to `go test` of the main run (e.g. scripts/test.sh -run
# TestConcurrent); SESSIONSEC_SKIP_MATRIX=1 stops after the main run (for a quick local loop - CI never
# sets it).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SESSIONSEC_MYSQL_DSN:-}" ] || [ -z "${SESSIONSEC_MARIADB_DSN:-}" ] || [ -z "${SESSIONSEC_POSTGRES_DSN:-}" ]; then
  scripts/dbservers.sh start
  # shellcheck disable=SC1091
  source "${SESSIONSEC_STATE:-/tmp/sessionsec-dbs}/env"
fi
# Issue 18's topologies around those servers (a Galera cluster, PgBouncer, a PostgreSQL standby, a MariaDB
# replica), unless the environment already points at them.
if [ -z "${SESSIONSEC_GALERA_DSNS:-}" ] || [ -z "${SESSIONSEC_PGBOUNCER_DSN:-}" ] || [ -z "${SESSIONSEC_PG_STANDBY_DSN:-}" ] || [ -z "${SESSIONSEC_MARIADB_REPLICA_DSN:-}" ]; then
  scripts/topology.sh start
  # shellcheck disable=SC1091
  source "${SESSIONSEC_STATE:-/tmp/sessionsec-dbs}/topology.env"
fi
export SESSIONSEC_REQUIRE_SERVERS=1

echo "== go vet (the library, and the benchmark's own module)"
go vet ./...
(cd bench && go vet ./...)
(cd sessionsectest && go vet ./...)
(cd sessionsecprom && go vet ./...)
echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
# The fault matrices kill child processes at every step boundary (hundreds of short-lived test binaries):
# they test the servers' and the runner's recovery, which the race detector's 5-10x slowdown adds nothing
# to, so they run without it; every other test (the same Migrate and Rollback code included) runs with it.
FAULT_MATRICES='^Test(Rollback)?KillMatrix$'
# gotest LOG ARGS...: go test -v into LOG; prints the package lines, the subtests that passed and skipped
# per server, and on failure the failing tests' lines.
gotest() {
  local logfile=$1; shift
  if ! go test -v "$@" >"$logfile" 2>&1; then
    grep -E -- '^(--- FAIL|FAIL|panic)|^\s+--- FAIL|_test.go:[0-9]+:' "$logfile" | head -80 || true
    echo "go test failed (the whole output: $logfile)"
    return 1
  fi
  grep -E '^(ok|FAIL|\?)\s' "$logfile" || true
  for s in mysql mariadb postgres sqlite; do
    printf '   %-8s subtests: %s passed, %s skipped\n' "$s" \
      "$(grep -cE -- "--- PASS: [^ ]+/$s(/[^ ]*)? " "$logfile" || true)" \
      "$(grep -cE -- "--- SKIP: [^ ]+/$s(/[^ ]*)? " "$logfile" || true)"
  done
}
if [ $# -gt 0 ]; then
  echo "== go test $* (race detector on)"
  gotest /tmp/sessionsec-test.log -race -p 1 -count=1 -timeout 60m "$@" ./...
else
  echo "== go test (race detector on; packages one at a time: they share the servers)"
  gotest /tmp/sessionsec-test.log -race -p 1 -count=1 -timeout 60m -skip "$FAULT_MATRICES" ./...
  echo "== the fault matrices (kill at every step, up and down; without the race detector)"
  gotest /tmp/sessionsec-faults.log -p 1 -count=1 -timeout 60m -run "$FAULT_MATRICES" .
fi
echo "== the Prometheus collector (sessionsecprom, its own module; scraped on SQLite)"
(cd sessionsecprom && go test -race -count=1 ./...)

if [ "${SESSIONSEC_SKIP_MATRIX:-}" = 1 ]; then
  echo "== SESSIONSEC_SKIP_MATRIX=1: the container helper and the version matrix were NOT run"
  exit 0
fi
echo "== the project's database images (first run: debootstraps Debian sid and trixie, a few minutes)"
scripts/images.sh build
echo "== the container helper's tests (sessionsectest, on the project's images)"
(
  cd sessionsectest
  # testcontainers-go here takes the sandbox's gateway for the Docker host; published ports are on
  # loopback. The reaper image cannot be pulled here: the helper stops its containers itself.
  export TESTCONTAINERS_HOST_OVERRIDE=${TESTCONTAINERS_HOST_OVERRIDE:-127.0.0.1}
  export TESTCONTAINERS_RYUK_DISABLED=${TESTCONTAINERS_RYUK_DISABLED:-true}
  export SESSIONSEC_REQUIRE_DOCKER=1
  export SESSIONSEC_MYSQL_IMAGE=sessionsec/mysql:9.7 SESSIONSEC_MARIADB_IMAGE=sessionsec/mariadb:11.8 SESSIONSEC_POSTGRES_IMAGE=sessionsec/postgres:17
  go test -count=1 -timeout 20m ./... 2>&1 | tee /tmp/sessionsec-helper-test.log
)
echo "== the version matrix (scripts/matrix.sh)"
scripts/matrix.sh

#!/usr/bin/env bash
# scripts/test.sh - the whole test suite, on real servers.
#
# Starts (installing on first use) Oracle MySQL 9.7, MariaDB 10.11 and PostgreSQL 15 on loopback ports
# via scripts/dbservers.sh, unless SESSIONSEC_MYSQL_DSN / SESSIONSEC_MARIADB_DSN / SESSIONSEC_POSTGRES_DSN
# already point at servers. Server tests are REQUIRED here: a missing server fails the run, it is never
# skipped. Extra arguments go to `go test` (e.g. scripts/test.sh -run TestConcurrent).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${SESSIONSEC_MYSQL_DSN:-}" ] || [ -z "${SESSIONSEC_MARIADB_DSN:-}" ] || [ -z "${SESSIONSEC_POSTGRES_DSN:-}" ]; then
  scripts/dbservers.sh start
  # shellcheck disable=SC1091
  source "${SESSIONSEC_STATE:-/tmp/sessionsec-dbs}/env"
fi
export SESSIONSEC_REQUIRE_SERVERS=1

echo "== go vet (the library, and the benchmark's own module)"
go vet ./...
(cd bench && go vet ./...)
echo "== gofmt"
unformatted=$(gofmt -l .)
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
echo "== go test (race detector on; packages one at a time: they share the servers)"
go test -race -p 1 -count=1 -timeout 60m "$@" ./... 2>&1 | tee /tmp/sessionsec-test.log

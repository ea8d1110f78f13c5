#!/bin/bash
# The entrypoint of the project's database images (scripts/images.sh):
#   sessionsec-entrypoint mysql|mariadb|postgres VERSION [server flags...]
# It starts the server on its pre-initialised data directory, creates what the official images'
# environment asks for (once), prints the readiness line testcontainers-go's module for that server
# waits for, and stays in the foreground with the server, forwarding SIGTERM.
set -euo pipefail
server=$1 version=$2
shift 2
# Like the official images, a command that names the server itself ("postgres -c fsync=off", as the
# testcontainers-go postgres module passes) means the server with those flags.
case "${1:-}" in postgres | mysqld | mariadbd) shift ;; esac

pid=
stop() { [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; exit 0; }
trap stop TERM INT

q() { printf "%s" "${1//\'/\'\'}"; } # an SQL string literal's body
ident() { printf "%s" "${1//\`/\`\`}"; }

case "$server" in
mysql | mariadb)
  if [ "$server" = mysql ]; then
    bin=/usr/sbin/mysqld client=mysql extra=(--mysqlx=OFF) ready="port: 3306  MySQL Community Server - GPL."
  else
    bin=/usr/sbin/mariadbd client=mariadb extra=() ready="port: 3306  mariadb.org binary distribution"
  fi
  root_pw=${MARIADB_ROOT_PASSWORD:-${MYSQL_ROOT_PASSWORD:-}}
  db=${MARIADB_DATABASE:-${MYSQL_DATABASE:-}}
  user=${MARIADB_USER:-${MYSQL_USER:-}}
  pw=${MARIADB_PASSWORD:-${MYSQL_PASSWORD:-}}
  mkdir -p /run/mysqld
  "$bin" --no-defaults --user=root --datadir=/var/lib/mysql --socket=/run/mysqld/mysqld.sock \
    --bind-address=0.0.0.0 --port=3306 --secure-file-priv= --skip-name-resolve "${extra[@]}" "$@" &
  pid=$!
  for _ in $(seq 1 1200); do
    "$client" -uroot -S /run/mysqld/mysqld.sock -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "sessionsec-entrypoint: $server exited" >&2; exit 1; }
    sleep 0.1
  done
  if [ ! -f /var/lib/mysql/.sessionsec-initialised ]; then
    {
      echo "CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '$(q "$root_pw")';"
      echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
      [ -n "$db" ] && echo "CREATE DATABASE IF NOT EXISTS \`$(ident "$db")\`;"
      if [ -n "$user" ] && [ "$user" != root ]; then
        echo "CREATE USER IF NOT EXISTS '$(q "$user")'@'%' IDENTIFIED BY '$(q "$pw")';"
        [ -n "$db" ] && echo "GRANT ALL ON \`$(ident "$db")\`.* TO '$(q "$user")'@'%';"
      fi
      echo "FLUSH PRIVILEGES;"
    } | "$client" -uroot -S /run/mysqld/mysqld.sock
    touch /var/lib/mysql/.sessionsec-initialised
  fi
  echo "$bin: ready for connections. Version: '$version'  socket: '/run/mysqld/mysqld.sock'  $ready"
  ;;
postgres)
  bin=/usr/lib/postgresql/$version/bin
  data=/var/lib/postgresql/$version/sessionsec
  user=${POSTGRES_USER:-postgres}
  pw=${POSTGRES_PASSWORD:-}
  db=${POSTGRES_DB:-$user}
  mkdir -p /run/postgresql && chown postgres:postgres /run/postgresql
  setpriv --reuid=postgres --regid=postgres --init-groups "$bin/postgres" -D "$data" \
    -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@" &
  pid=$!
  psql() { setpriv --reuid=postgres --regid=postgres --init-groups "$bin/psql" -h /run/postgresql -U postgres -d postgres -v ON_ERROR_STOP=1 -Atq "$@"; }
  for _ in $(seq 1 1200); do
    psql -c 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo "sessionsec-entrypoint: postgres exited" >&2; exit 1; }
    sleep 0.1
  done
  if [ ! -f "$data/.sessionsec-initialised" ]; then
    if [ "$user" = postgres ]; then
      psql -c "ALTER ROLE postgres PASSWORD '$(q "$pw")'"
    else
      psql -c "CREATE ROLE \"${user//\"/\"\"}\" SUPERUSER LOGIN PASSWORD '$(q "$pw")'"
    fi
    if [ "$db" != postgres ]; then
      psql -c "CREATE DATABASE \"${db//\"/\"\"}\" OWNER \"${user//\"/\"\"}\""
    fi
    touch "$data/.sessionsec-initialised"
  fi
  # The official image starts a server to initialise and then the real one; the module waits for the
  # line twice. The server printed it once.
  echo "LOG:  database system is ready to accept connections"
  ;;
*)
  echo "sessionsec-entrypoint: unknown server $server" >&2
  exit 2
  ;;
esac
wait "$pid"

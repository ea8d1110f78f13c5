#!/usr/bin/env bash
# topology.sh - install (if needed) and start the production-like topologies of issue 18 on loopback,
# around the servers scripts/dbservers.sh runs:
#   a 3-node MariaDB 10.11 Galera cluster      (galera-4; mariadbd as user mysql: rsync SST fails as root)
#   PgBouncer 1.18, transaction pooling         (in front of dbservers.sh's PostgreSQL 15)
#   a PostgreSQL 15 hot standby                 (pg_basebackup -R, streaming, hot_standby_feedback=on)
#   a MariaDB 10.11 replica                     (GTID replication from dbservers.sh's MariaDB)
#
# Usage:  scripts/topology.sh start   # installs what is missing, starts what is not running, writes $STATE/topology.env
#         scripts/topology.sh stop    # stops the topology (not dbservers.sh's servers)
#         scripts/topology.sh env     # prints the export lines
#         scripts/topology.sh galera-node stop|kill|start N   # stop, SIGKILL or (re)join Galera node N (1-3),
#                                                              # for restart and crash tests
#
# Idempotent: what already runs is left alone, what is broken is rebuilt. Everything listens on 127.0.0.1
# only and keeps its state under $SESSIONSEC_STATE (default /tmp/sessionsec-dbs); logs are next to it.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
STATE=${SESSIONSEC_STATE:-/tmp/sessionsec-dbs}
PG_BIN=${SESSIONSEC_PG_BIN:-/usr/lib/postgresql/15/bin}
read -r -a GALERA_PORTS <<<"${SESSIONSEC_GALERA_PORTS:-3311 3312 3313}"
# Galera's own ports per node: group communication G, incremental state transfer G+1, rsync SST G+2.
read -r -a GALERA_GCOMM <<<"${SESSIONSEC_GALERA_GCOMM_PORTS:-4570 4580 4590}"
PGBOUNCER_PORT=${SESSIONSEC_PGBOUNCER_PORT:-6432}
PG_STANDBY_PORT=${SESSIONSEC_PG_STANDBY_PORT:-5434}
MARIADB_REPLICA_PORT=${SESSIONSEC_MARIADB_REPLICA_PORT:-3309}
# Only databases named ssecrepl_* reach the replica (internal/testtopo creates them): the replica does not
# replay every other test's writes on the shared main server.
REPLICA_DB_PREFIX=ssecrepl_
GALERA_DIR=$STATE/galera
PGB_DIR=$STATE/pgbouncer
STANDBY_DIR=$STATE/pg-standby
STANDBY_RUN=$STATE/pg-standby-run # its log and socket: a directory user postgres writes
REPLICA_DIR=$STATE/mariadb-replica

log() { printf '[topology] %s\n' "$*" >&2; }
die() { printf '[topology] ERROR: %s\n' "$*" >&2; exit 1; }

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
  # policy-rc.d keeps the packages from starting system services (pgbouncer has one): we run private instances.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || { rm -f /usr/sbin/policy-rc.d; die "apt-get install ${missing[*]} failed"; }
  rm -f /usr/sbin/policy-rc.d
}

# wait_for SECONDS CMD...: retries CMD every half second; fails after SECONDS.
wait_for() {
  local secs=$1; shift
  for _ in $(seq 1 $((secs * 2))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

# pid_alive FILE: the process named in a pid file runs.
pid_alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

# stop_pid FILE SECONDS: SIGTERM, then wait for the process to exit (SIGKILL after SECONDS).
stop_pid() {
  local f=$1 secs=$2 pid
  pid_alive "$f" || return 0
  pid=$(cat "$f")
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((secs * 2))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.5; done
  log "process $pid ($f) did not stop in ${secs}s: killing it"
  kill -9 "$pid" 2>/dev/null || true
}

my() { local port=$1; shift; mariadb --protocol=tcp -h127.0.0.1 -P"$port" -uroot "$@"; }
myval() { my "$1" -N -B -e "$2" 2>/dev/null; }

# --- the servers of dbservers.sh ----------------------------------------------------------------------

# main_ports: the ports of dbservers.sh's MariaDB and PostgreSQL, from its env file (starting them if
# they do not answer).
main_ports() {
  # shellcheck disable=SC1091
  if [ ! -f "$STATE/env" ] || ! (source "$STATE/env" && mariadb_ok "$(port_of_mysql "$SESSIONSEC_MARIADB_DSN")" \
      && pg_ok "$(port_of_pg "$SESSIONSEC_POSTGRES_DSN")"); then
    log "dbservers.sh's servers are not running: starting them"
    "$HERE/dbservers.sh" start 9>&-
  fi
  # shellcheck disable=SC1091
  source "$STATE/env"
  MARIADB_PORT=$(port_of_mysql "$SESSIONSEC_MARIADB_DSN")
  PG_PORT=$(port_of_pg "$SESSIONSEC_POSTGRES_DSN")
}
port_of_mysql() { sed -E 's/.*tcp\([^:]*:([0-9]+)\).*/\1/' <<<"$1"; }
port_of_pg() { sed -E 's#^[a-z]+://[^@/]*@?[^:/]*:([0-9]+)/.*#\1#' <<<"$1"; }
mariadb_ok() { myval "$1" 'SELECT 1' >/dev/null; }
pg_ok() { psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atc 'SELECT 1' >/dev/null 2>&1; }

# --- Galera --------------------------------------------------------------------------------------------

galera_addr() { local IFS=,; local a=(); for g in "${GALERA_GCOMM[@]}"; do a+=("127.0.0.1:$g"); done; echo "gcomm://${a[*]}"; }
node_dir() { echo "$GALERA_DIR/n$1"; }
node_pidfile() { echo "$GALERA_DIR/n$1.pid"; }
node_port() { echo "${GALERA_PORTS[$(($1 - 1))]}"; }
node_state() { myval "$(node_port "$1")" "SHOW STATUS LIKE 'wsrep_local_state_comment'" | awk '{print $2}'; }
node_size() { myval "$(node_port "$1")" "SHOW STATUS LIKE 'wsrep_cluster_size'" | awk '{print $2}'; }
node_synced() { [ "$(node_state "$1")" = Synced ]; }
node_up() { pid_alive "$(node_pidfile "$1")" && myval "$(node_port "$1")" 'SELECT 1' >/dev/null; }

# node_start N [--wsrep-new-cluster]: starts node N (its datadir must exist) and waits until it is Synced.
node_start() {
  local n=$1; shift
  local dir port g
  dir=$(node_dir "$n"); port=$(node_port "$n"); g=${GALERA_GCOMM[$((n - 1))]}
  log "starting Galera node $n on 127.0.0.1:$port${1:+ (bootstrapping the cluster)}"
  # ROW binlog format and interleaved auto-increment locks are Galera's requirements; the small log and
  # buffer pool keep three nodes and their rsync state transfers light; durability comes from the cluster.
  nohup mariadbd --no-defaults --user=mysql --datadir="$dir" --port="$port" --bind-address=127.0.0.1 \
    --socket="$GALERA_DIR/n$n.sock" --pid-file="$(node_pidfile "$n")" --skip-name-resolve \
    --max-connections=300 --innodb-buffer-pool-size=128M --innodb-log-file-size=48M \
    --innodb-flush-log-at-trx-commit=2 --default-storage-engine=InnoDB \
    --binlog-format=ROW --innodb-autoinc-lock-mode=2 \
    --wsrep-on=ON --wsrep-provider=/usr/lib/galera/libgalera_smm.so --wsrep-cluster-name=sessionsec \
    --wsrep-cluster-address="$(galera_addr)" --wsrep-node-name="node$n" --wsrep-node-address="127.0.0.1:$g" \
    --wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$g;ist.recv_addr=127.0.0.1:$((g + 1));gcache.size=64M" \
    --wsrep-sst-method=rsync --wsrep-sst-receive-address="127.0.0.1:$((g + 2))" \
    "$@" >>"$GALERA_DIR/n$n.log" 2>&1 9>&- &
  local pid=$!
  for _ in $(seq 1 240); do
    node_synced "$n" && return 0
    kill -0 "$pid" 2>/dev/null || { log "Galera node $n exited; last log lines:"; tail -15 "$GALERA_DIR/n$n.log" >&2; return 1; }
    sleep 0.5
  done
  log "Galera node $n not Synced within 120s; see $GALERA_DIR/n$n.log"
  return 1
}

node_stop() { stop_pid "$(node_pidfile "$1")" 90; }

# node_prepare N: a datadir for node N. Only a bootstrapping node needs system tables: a joiner gets the
# whole datadir from its donor (rsync SST), so an empty directory owned by mysql is enough.
node_prepare() {
  local n=$1 bootstrap=${2:-}
  local dir; dir=$(node_dir "$n")
  mkdir -p "$dir"; chown mysql:mysql "$dir"
  if [ -n "$bootstrap" ] && [ ! -d "$dir/mysql" ]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$dir" --auth-root-authentication-method=normal \
      >"$GALERA_DIR/n$n-init.log" 2>&1 || die "mariadb-install-db for Galera node $n failed; see $GALERA_DIR/n$n-init.log"
  fi
}

# grastate N KEY: a value of node N's saved Galera state.
grastate() { sed -nE "s/^$2:[[:space:]]*//p" "$(node_dir "$1")/grastate.dat" 2>/dev/null; }

# join N: node N joins the running cluster. If it cannot (its saved state does not fit the cluster's,
# e.g. after a forced bootstrap), its Galera state is dropped so that it takes a full state transfer.
join() {
  local n=$1
  node_prepare "$n"
  node_start "$n" && return 0
  node_stop "$n"
  log "Galera node $n could not join with its saved state: retrying with a full state transfer"
  rm -f "$(node_dir "$n")/grastate.dat" "$(node_dir "$n")/gvwstate.dat"
  node_start "$n" || die "Galera node $n could not join the cluster; see $GALERA_DIR/n$n.log"
}

start_galera() {
  mkdir -p "$GALERA_DIR"; chown mysql:mysql "$GALERA_DIR"
  local up=() down=() n
  for n in 1 2 3; do if node_up "$n"; then up+=("$n"); else node_stop "$n"; down+=("$n"); fi; done
  if [ ${#up[@]} -eq 0 ]; then
    # Bootstrap from the node that stopped last (Galera marks it safe_to_bootstrap); after a crash no
    # node is marked: node 1 is forced and the others take a full state transfer from it.
    local boot=
    for n in 1 2 3; do [ "$(grastate "$n" safe_to_bootstrap)" = 1 ] && { boot=$n; break; }; done
    if [ -z "$boot" ]; then
      boot=1
      if [ -f "$(node_dir 1)/grastate.dat" ]; then
        log "no Galera node is safe to bootstrap (crash?): forcing node 1, the others resync from it"
        sed -i -E 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$(node_dir 1)/grastate.dat"
        rm -f "$(node_dir 2)/grastate.dat" "$(node_dir 3)/grastate.dat"
      fi
    fi
    rm -f "$(node_dir "$boot")/gvwstate.dat"
    node_prepare "$boot" bootstrap
    node_start "$boot" --wsrep-new-cluster || die "Galera node $boot could not bootstrap the cluster; see $GALERA_DIR/n$boot.log"
    for n in 1 2 3; do [ "$n" = "$boot" ] || join "$n"; done
  else
    for n in "${down[@]}"; do join "$n"; done
  fi
  for n in 1 2 3; do
    wait_for 60 galera_node_ok "$n" || die "Galera node $n: state $(node_state "$n"), cluster size $(node_size "$n") (want Synced, 3); try scripts/topology.sh stop, then start"
  done
  log "Galera cluster of 3 up on 127.0.0.1:${GALERA_PORTS[*]}"
}
galera_node_ok() { node_synced "$1" && [ "$(node_size "$1")" = 3 ]; }

stop_galera() {
  # The last node to stop is the one to bootstrap from next time: node 1, the usual choice.
  local n
  for n in 3 2 1; do node_stop "$n"; done
}

# --- PgBouncer -----------------------------------------------------------------------------------------

start_pgbouncer() {
  mkdir -p "$PGB_DIR"; chown postgres "$PGB_DIR"
  # Every database of the server is reachable through the pooler under its own name (tests create fresh
  # ones); trust auth as on the server. extra_float_digits is a startup parameter lib/pq and pgx send.
  cat >"$PGB_DIR/pgbouncer.ini.new" <<INI
[databases]
* = host=127.0.0.1 port=$PG_PORT

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PGBOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $PGB_DIR/userlist.txt
admin_users = postgres
pool_mode = transaction
max_client_conn = 200
default_pool_size = 20
server_idle_timeout = 60
ignore_startup_parameters = extra_float_digits
logfile = $PGB_DIR/pgbouncer.log
pidfile = $PGB_DIR/pgbouncer.pid
INI
  echo '"postgres" ""' >"$PGB_DIR/userlist.txt"
  mv "$PGB_DIR/pgbouncer.ini.new" "$PGB_DIR/pgbouncer.ini"
  chown postgres "$PGB_DIR"/*
  if pid_alive "$PGB_DIR/pgbouncer.pid" && pg_ok "$PGBOUNCER_PORT"; then
    kill -HUP "$(cat "$PGB_DIR/pgbouncer.pid")" # re-read the configuration written above
    log "PgBouncer already running on $PGBOUNCER_PORT (configuration reloaded)"
    return 0
  fi
  stop_pid "$PGB_DIR/pgbouncer.pid" 10
  rm -f "$PGB_DIR/pgbouncer.pid"
  log "starting PgBouncer (transaction pooling) on 127.0.0.1:$PGBOUNCER_PORT -> PostgreSQL $PG_PORT"
  su postgres -s /bin/sh -c "pgbouncer -d '$PGB_DIR/pgbouncer.ini'" >>"$PGB_DIR/start.log" 2>&1 9>&- \
    || die "PgBouncer did not start; see $PGB_DIR/start.log and $PGB_DIR/pgbouncer.log (port $PGBOUNCER_PORT taken? set SESSIONSEC_PGBOUNCER_PORT)"
  wait_for 20 pg_ok "$PGBOUNCER_PORT" || die "PgBouncer does not answer on $PGBOUNCER_PORT; see $PGB_DIR/pgbouncer.log"
}

# --- PostgreSQL hot standby ----------------------------------------------------------------------------

# The application_name the primary lists the standby under (one per standby port).
STANDBY_NAME=sessionsec_standby_$PG_STANDBY_PORT
primary_sql() { psql -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -Atc "$1"; }
standby_streaming() {
  [ "$(primary_sql "SELECT state FROM pg_stat_replication WHERE application_name = '$STANDBY_NAME'" 2>/dev/null)" = streaming ] \
    && [ "$(psql -h 127.0.0.1 -p "$PG_STANDBY_PORT" -U postgres -d postgres -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = t ]
}
standby_ctl() { su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D '$STANDBY_DIR' $*"; }
standby_sysid() { "$PG_BIN/pg_controldata" "$STANDBY_DIR" 2>/dev/null | sed -nE 's/^Database system identifier:[[:space:]]*//p'; }
slot_usable() { [ "$(primary_sql "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$STANDBY_NAME'" 2>/dev/null)" = reserved ] \
  || [ "$(primary_sql "SELECT wal_status FROM pg_replication_slots WHERE slot_name = '$STANDBY_NAME'" 2>/dev/null)" = extended ]; }
drop_slot() { primary_sql "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$STANDBY_NAME' AND NOT active" >/dev/null 2>&1 || true; }

start_pg_standby() {
  # The standby streams through a replication slot: the test suite writes WAL fast enough that the
  # primary recycles segments a standby on a busy machine has not received yet (seen here within
  # minutes without one). max_slot_wal_keep_size bounds what a stopped standby makes the primary keep.
  if ! primary_sql "ALTER SYSTEM SET max_slot_wal_keep_size = '2GB'" >/dev/null || ! primary_sql 'SELECT pg_reload_conf()' >/dev/null; then
    die "could not set max_slot_wal_keep_size on PostgreSQL $PG_PORT"
  fi
  if standby_streaming && slot_usable; then log "PostgreSQL standby already streaming on $PG_STANDBY_PORT"; return 0; fi
  local primary_sysid attempt max_conn
  # A hot standby refuses to start with fewer connections than its primary has.
  max_conn=$(primary_sql 'SHOW max_connections')
  mkdir -p "$STANDBY_RUN"; chown postgres "$STANDBY_RUN"
  primary_sysid=$(primary_sql 'SELECT system_identifier FROM pg_control_system()')
  for attempt in 1 2; do
    standby_ctl -m fast stop >/dev/null 2>&1 || true
    # A standby copied from another primary (dbservers.sh re-initialised it), one whose slot is gone or
    # lost WAL, or one that does not stream is copied again: pg_basebackup of the test server takes seconds.
    if [ "$attempt" = 2 ] || [ "$(standby_sysid)" != "$primary_sysid" ] || ! slot_usable; then
      log "copying PostgreSQL $PG_PORT into a standby (pg_basebackup -R, slot $STANDBY_NAME)"
      drop_slot
      rm -rf "$STANDBY_DIR"; mkdir -p "$STANDBY_DIR"; chown postgres "$STANDBY_DIR"; chmod 700 "$STANDBY_DIR"
      su postgres -s /bin/sh -c "$PG_BIN/pg_basebackup -h 127.0.0.1 -p $PG_PORT -U postgres -D '$STANDBY_DIR' -R -C -S $STANDBY_NAME -X stream -c fast" \
        >"$STANDBY_RUN/init.log" 2>&1 || die "pg_basebackup failed; see $STANDBY_RUN/init.log"
    fi
    log "starting the PostgreSQL hot standby on 127.0.0.1:$PG_STANDBY_PORT"
    # cluster_name is the application_name the primary lists the standby under in pg_stat_replication.
    standby_ctl -l "'$STANDBY_RUN/postgres.log'" -w -t 60 -o "\"-p $PG_STANDBY_PORT -k '$STANDBY_RUN' -c listen_addresses=127.0.0.1 -c max_connections=$max_conn -c shared_buffers=128MB -c hot_standby=on -c hot_standby_feedback=on -c cluster_name=$STANDBY_NAME\"" start >/dev/null 2>&1 9>&- \
      || { log "the standby did not start (see $STANDBY_RUN/postgres.log)"; continue; }
    wait_for 30 standby_streaming && { log "PostgreSQL standby streaming on $PG_STANDBY_PORT"; return 0; }
    log "the standby does not stream from the primary (see $STANDBY_RUN/postgres.log)"
  done
  die "could not start a streaming PostgreSQL standby; see $STANDBY_RUN/postgres.log"
}
# stop_pg_standby: stops the standby and drops its slot, so that a stopped topology holds no WAL on the
# primary (the next start copies the primary again).
stop_pg_standby() {
  if [ -f "$STANDBY_DIR/postmaster.pid" ]; then standby_ctl -m fast stop >/dev/null 2>&1 || true; fi
  if [ -f "$STATE/env" ]; then
    # shellcheck disable=SC1091
    PG_PORT=$(source "$STATE/env" && port_of_pg "$SESSIONSEC_POSTGRES_DSN")
    drop_slot
  fi
}

# --- MariaDB replica -----------------------------------------------------------------------------------

replica_ok() {
  local st
  st=$(my "$MARIADB_REPLICA_PORT" -e 'SHOW SLAVE STATUS\G' 2>/dev/null) || return 1
  grep -q 'Slave_IO_Running: Yes' <<<"$st" && grep -q 'Slave_SQL_Running: Yes' <<<"$st"
}

start_mariadb_replica() {
  local logbin sid
  logbin=$(myval "$MARIADB_PORT" 'SELECT @@log_bin') || die "MariaDB on $MARIADB_PORT does not answer"
  sid=$(myval "$MARIADB_PORT" 'SELECT @@server_id')
  if [ "$logbin" != 1 ] || [ "$sid" = 0 ] || [ "$sid" = "$MARIADB_REPLICA_PORT" ]; then
    die "MariaDB on $MARIADB_PORT has log_bin=$logbin, server_id=$sid; a replica needs a binary log and a server id other than the replica's ($MARIADB_REPLICA_PORT): restart it with scripts/dbservers.sh stop && scripts/dbservers.sh start"
  fi
  if replica_ok; then log "MariaDB replica already replicating on $MARIADB_REPLICA_PORT"; return 0; fi
  stop_pid "$STATE/mariadb-replica.pid" 60
  if [ ! -d "$REPLICA_DIR/mysql" ]; then
    rm -rf "$REPLICA_DIR"; mkdir -p "$REPLICA_DIR"
    mariadb-install-db --no-defaults --user=root --datadir="$REPLICA_DIR" --auth-root-authentication-method=normal \
      >"$STATE/mariadb-replica-init.log" 2>&1 || die "mariadb-install-db for the replica failed; see $STATE/mariadb-replica-init.log"
  fi
  log "starting the MariaDB replica on 127.0.0.1:$MARIADB_REPLICA_PORT"
  # The server id is the port: unique among replicas of one primary. read_only as on a real replica (root
  # bypasses it). Only ssecrepl_* databases replicate; a statement
  # about a database that existed before the replica started (it starts at the primary's current GTID,
  # with no copy of older data) is skipped instead of stopping replication: the filter above covers
  # tables only, and routine and trigger statements of every database still arrive (1305, 1360).
  nohup mariadbd --no-defaults --user=root --datadir="$REPLICA_DIR" --port="$MARIADB_REPLICA_PORT" --bind-address=127.0.0.1 \
    --socket="$STATE/mariadb-replica.sock" --pid-file="$STATE/mariadb-replica.pid" --server-id="$MARIADB_REPLICA_PORT" \
    --relay-log="$REPLICA_DIR/relay-bin" --skip-slave-start --read-only=ON \
    --replicate-wild-do-table="${REPLICA_DB_PREFIX//_/\\_}%.%" --slave-skip-errors=1008,1049,1051,1054,1091,1146,1305,1360 \
    --max-connections=300 --innodb-buffer-pool-size=256M --skip-name-resolve >>"$STATE/mariadb-replica.log" 2>&1 9>&- &
  wait_for 60 mariadb_ok "$MARIADB_REPLICA_PORT" || die "the MariaDB replica did not come up; see $STATE/mariadb-replica.log"
  # (Re)seed at the primary's current position: what a restart of either side left behind is dropped.
  local pos
  pos=$(myval "$MARIADB_PORT" 'SELECT @@gtid_binlog_pos')
  my "$MARIADB_REPLICA_PORT" -e "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_slave_pos = '$pos';
    CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$MARIADB_PORT, MASTER_USER='root', MASTER_PASSWORD='',
      MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
    START SLAVE;" || die "could not configure replication on the MariaDB replica"
  wait_for 30 replica_ok || die "the MariaDB replica does not replicate: $(my "$MARIADB_REPLICA_PORT" -e 'SHOW SLAVE STATUS\G' | grep -E 'Running|Error' | tr -s ' ' | tr '\n' ';')"
  log "MariaDB replica replicating from $MARIADB_PORT (GTID $pos)"
}
stop_mariadb_replica() { stop_pid "$STATE/mariadb-replica.pid" 60; }

# --- env -----------------------------------------------------------------------------------------------

print_env() {
  local dsns=() p ports=${GALERA_PORTS[*]} gcomm=${GALERA_GCOMM[*]}
  for p in "${GALERA_PORTS[@]}"; do dsns+=("root@tcp(127.0.0.1:$p)/"); done
  local IFS=,
  cat <<ENV
# PgBouncer 1.18, transaction pooling, in front of PostgreSQL. lib/pq form: binary_parameters=yes sends a
# parameterised statement in one round trip (without it, Parse and Bind are two, each ending in Sync, and the
# pooler may hand the second to another server connection). pgx needs default_query_exec_mode=simple_protocol
# before PgBouncer 1.21 (no prepared statements): SESSIONSEC_PGBOUNCER_PGX_DSN.
export SESSIONSEC_PGBOUNCER_DSN='postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/postgres?sslmode=disable&binary_parameters=yes'
export SESSIONSEC_PGBOUNCER_PGX_DSN='postgres://postgres@127.0.0.1:$PGBOUNCER_PORT/postgres?sslmode=disable&default_query_exec_mode=simple_protocol'
# The 3 nodes of the MariaDB Galera cluster (go-sql-driver DSNs, comma separated).
export SESSIONSEC_GALERA_DSNS='${dsns[*]}'
# The PostgreSQL hot standby of SESSIONSEC_POSTGRES_DSN's server.
export SESSIONSEC_PG_STANDBY_DSN='postgres://postgres@127.0.0.1:$PG_STANDBY_PORT/postgres?sslmode=disable'
# The MariaDB replica of SESSIONSEC_MARIADB_DSN's server; only databases named ${REPLICA_DB_PREFIX}* replicate.
export SESSIONSEC_MARIADB_REPLICA_DSN='root@tcp(127.0.0.1:$MARIADB_REPLICA_PORT)/'
# For tests that stop and restart a Galera node with the script: where its state is and which ports it uses.
export SESSIONSEC_TOPOLOGY_SCRIPT='$HERE/topology.sh'
export SESSIONSEC_STATE='$STATE' SESSIONSEC_GALERA_PORTS='$ports' SESSIONSEC_GALERA_GCOMM_PORTS='$gcomm'
ENV
}

# One run at a time (the lead's and a helper's, say). The servers started below must not inherit the
# lock's descriptor (9>&- on each), or they would hold it for as long as they run.
mkdir -p "$STATE"
exec 9>"$STATE/topology.lock"
flock -w 600 9 || die "another scripts/topology.sh has held $STATE/topology.lock for 10 minutes"

case "${1:-start}" in
  start)
    [ "$(id -u)" = 0 ] || die "run as root (it installs packages and runs the servers as users mysql and postgres)"
    mkdir -p "$STATE"
    t0=$(date +%s)
    apt_install galera-4 rsync pgbouncer mariadb-server mariadb-client postgresql-client-15
    main_ports
    # Independent of each other: the Galera cluster (the slow part) starts beside the rest.
    start_galera >"$STATE/topology-galera.log" 2>&1 & galera_pid=$!
    # A failure below ends the Galera start too (what it started, the next start adopts or restarts).
    trap 'kill "$galera_pid" 2>/dev/null || true' EXIT
    start_pgbouncer
    start_pg_standby
    start_mariadb_replica
    if ! wait $galera_pid; then cat "$STATE/topology-galera.log" >&2; die "the Galera cluster did not start"; fi
    cat "$STATE/topology-galera.log" >&2
    print_env >"$STATE/topology.env.new" && mv "$STATE/topology.env.new" "$STATE/topology.env"
    log "topology up in $(($(date +%s) - t0))s; env in $STATE/topology.env"
    ;;
  stop)
    [ -f "$PGB_DIR/pgbouncer.pid" ] && stop_pid "$PGB_DIR/pgbouncer.pid" 10
    stop_pg_standby
    stop_mariadb_replica
    stop_galera
    rm -f "$STATE/topology.env"
    log "topology stopped"
    ;;
  env) print_env ;;
  galera-node)
    n=${3:-}
    [[ "$n" =~ ^[123]$ ]] || die "usage: $0 galera-node stop|kill|start 1|2|3"
    case "${2:-}" in
      stop) node_stop "$n" ;;
      kill) # a crash: no clean shutdown, the cluster notices by its own timeouts
        if pid_alive "$(node_pidfile "$n")"; then
          pid=$(cat "$(node_pidfile "$n")"); kill -9 "$pid"
          while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        fi ;;
      start) node_up "$n" || { node_stop "$n"; join "$n"; } ;;
      *) die "usage: $0 galera-node stop|kill|start 1|2|3" ;;
    esac
    ;;
  *) die "usage: $0 start|stop|env|galera-node stop|kill|start N" ;;
esac

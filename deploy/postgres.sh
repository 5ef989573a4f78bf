#!/usr/bin/env bash
# deploy/postgres.sh — a real PostgreSQL server on 127.0.0.1 for the tests and for
# distributed mode: our own cluster (not Debian's managed one, no systemd needed),
# installed from Debian's packages when the machine has none.
#
#   deploy/postgres.sh start     start (or find running), create database coupdemain
#   deploy/postgres.sh stop      stop it (fast shutdown; data is kept)
#   deploy/postgres.sh restart   stop + start
#   deploy/postgres.sh status    exit 0 when it answers
#   deploy/postgres.sh url       print the SQLAlchemy URL (postgresql+asyncpg://...)
#
# With DATABASE_URL set, that server is used instead: start only waits until it answers,
# url prints it, stop does nothing.
#
# Environment: PGPORT (55432), COUPDEMAIN_STATE (/var/tmp/coupdemain: data in pg/,
#   socket and log in pg-run/), PG_START_TIMEOUT (60 s).
# Progress goes to stderr; only `url` writes to stdout.
set -euo pipefail


PG_HOST=127.0.0.1
PG_PORT=${PGPORT:-55432}
DB_NAME=coupdemain
STATE_DIR=${COUPDEMAIN_STATE:-/var/tmp/coupdemain}
PGDATA_DIR=$STATE_DIR/pg
RUN_DIR=$STATE_DIR/pg-run # unix socket, server log, lock
LOGFILE=$RUN_DIR/postgres.log
INIT_MARKER=$PGDATA_DIR/coupdemain.initdb.done
START_TIMEOUT=${PG_START_TIMEOUT:-60}

log() { echo "postgres: $*" >&2; }
die() {
    echo "postgres: ERROR: $*" >&2
    exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }

# Run a server-side command as the postgres user (the server refuses to run as root).
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# ---------------------------------------------------------------- binaries

PG_BIN=
find_bin() {
    local d best=
    for d in /usr/lib/postgresql/*/bin; do
        [[ -x $d/pg_ctl && -x $d/initdb && -x $d/postgres ]] || continue
        best=$(printf '%s\n%s\n' "$best" "$d" | sed '/^$/d' | sort -V | tail -1)
    done
    PG_BIN=$best
    [[ -n $PG_BIN ]]
}

install_postgres() {
    is_root || die "PostgreSQL is not installed and installing it needs root: apt-get install postgresql"
    log "installing PostgreSQL from Debian's packages (apt-get) ..."
    local policy_made=0 rc=0 aptlog=${TMPDIR:-/tmp}/coupdemain-apt-postgres.log
    # keep the package from starting Debian's own cluster: we run ours
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_made=1
    fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } \
        >"$aptlog" 2>&1 || rc=$?
    ((policy_made)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        cat "$aptlog" >&2
        die "apt-get install postgresql failed"
    fi
    find_bin || die "postgresql installed but no server binaries in /usr/lib/postgresql/*/bin"
    log "installed $("$PG_BIN/postgres" --version)"
}

ensure_bin() {
    find_bin || install_postgres
}

ensure_user() {
    is_root || return 0
    id -u postgres >/dev/null 2>&1 && return 0
    log "creating the postgres system user"
    useradd --system --user-group --home-dir /var/lib/postgresql --shell /bin/bash postgres
}

# ---------------------------------------------------------------- our cluster

prepare_dirs() {
    if [[ ! -d $STATE_DIR ]]; then
        mkdir -p "$STATE_DIR"
        chmod 755 "$STATE_DIR"
    fi
    mkdir -p "$PGDATA_DIR" "$RUN_DIR"
    if is_root; then
        chown postgres:postgres "$PGDATA_DIR" "$RUN_DIR"
        [[ ! -e $LOGFILE ]] || chown postgres:postgres "$LOGFILE"
    fi
    chmod 700 "$PGDATA_DIR"
    chmod 755 "$RUN_DIR"
    as_pg test -w "$RUN_DIR" -a -w "$PGDATA_DIR" ||
        die "the postgres user cannot reach $STATE_DIR (a parent folder is closed to it?); set COUPDEMAIN_STATE elsewhere"
}

init_cluster() {
    [[ -f $INIT_MARKER ]] && return 0
    if [[ -n "$(ls -A "$PGDATA_DIR")" ]]; then
        # no marker: an initdb that never finished (it writes the marker last)
        log "removing a half-initialised cluster in $PGDATA_DIR"
        find "$PGDATA_DIR" -mindepth 1 -delete
    fi
    local locale=C
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
    log "initdb $PGDATA_DIR ($("$PG_BIN/postgres" --version | awk '{print $3}'), locale $locale)"
    as_pg "$PG_BIN/initdb" -D "$PGDATA_DIR" --auth=trust -U postgres --encoding=UTF8 \
        --locale="$locale" >"$RUN_DIR/initdb.log" 2>&1 || {
        cat "$RUN_DIR/initdb.log" >&2
        die "initdb failed"
    }
    echo "include_if_exists = 'coupdemain.conf'  # written by deploy/postgres.sh" >>"$PGDATA_DIR/postgresql.conf"
    as_pg touch "$INIT_MARKER"
}

# Our settings, rewritten on every start (the server reads them at start-up).
write_conf() {
    local tmp=$PGDATA_DIR/coupdemain.conf.tmp
    cat >"$tmp" <<EOF
# Written by deploy/postgres.sh on every start; edit the script, not this file.
listen_addresses = '$PG_HOST'
port = $PG_PORT
unix_socket_directories = '$RUN_DIR'
max_connections = 300
shared_buffers = 256MB
# durability stays on: the platform's "no data lost" claims are tested against this server
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
max_wal_size = 1GB
log_min_messages = warning
log_timezone = 'UTC'
EOF
    is_root && chown postgres:postgres "$tmp"
    mv "$tmp" "$PGDATA_DIR/coupdemain.conf"
}

# State of the postmaster named in postmaster.pid: none (no file, or that pid is gone),
# alive, zombie (killed, not yet reaped: still "running" to pg_ctl and to postgres' own
# lock check), or foreign (the pid now belongs to another program).
postmaster_state() {
    local pidfile=$PGDATA_DIR/postmaster.pid pid stat
    pid=$(head -1 "$pidfile" 2>/dev/null || true)
    if [[ ! $pid =~ ^[0-9]+$ ]] || ! stat=$(cat "/proc/$pid/stat" 2>/dev/null); then
        echo none
    elif [[ ${stat##*) } == Z* ]]; then
        echo zombie
    elif [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres* ]]; then
        echo alive
    else
        echo foreign
    fi
}

answers() { # accepting connections on our port
    "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -t 3 >/dev/null 2>&1
}

psql_local() { # db sql
    "$PG_BIN/psql" -X -q -w -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U postgres -d "$1" -Atc "$2"
}

# Our postmaster is not running (checked by the caller): a socket lock file whose pid now
# belongs to another program would make the new server refuse to start.
clear_stale_socket_locks() {
    local f pid
    for f in "$RUN_DIR"/.s.PGSQL.*.lock; do
        [[ -e $f ]] || continue
        pid=$(head -1 "$f" 2>/dev/null || true)
        if [[ $pid =~ ^[0-9]+$ && $(cat "/proc/$pid/comm" 2>/dev/null) == postgres* ]]; then
            continue
        fi
        rm -f "$f" "${f%.lock}"
    done
}

wait_answers() {
    local deadline=$(($(date +%s) + START_TIMEOUT))
    until answers; do
        (($(date +%s) < deadline)) || die "not answering on $PG_HOST:$PG_PORT after ${START_TIMEOUT}s (log: $LOGFILE)"
        sleep 0.2
    done
}

ensure_db() {
    local have
    have=$(psql_local postgres "select 1 from pg_database where datname = '$DB_NAME'") ||
        die "cannot query the server on $PG_HOST:$PG_PORT"
    if [[ $have != 1 ]]; then
        psql_local postgres "create database $DB_NAME" || die "create database $DB_NAME failed"
        log "created database $DB_NAME"
    fi
}

local_url() { echo "postgresql+asyncpg://postgres@$PG_HOST:$PG_PORT/$DB_NAME"; }

lock() {
    mkdir -p "$STATE_DIR"
    exec 9>"$STATE_DIR/.postgres.lock"
    flock -w 180 9 || die "another deploy/postgres.sh holds $STATE_DIR/.postgres.lock"
}

start_local() {
    local t0=$SECONDS
    ensure_bin
    ensure_user
    prepare_dirs
    if [[ -f $INIT_MARKER ]]; then
        local deadline=$(($(date +%s) + START_TIMEOUT)) st
        while :; do
            st=$(postmaster_state)
            case $st in
            alive)
                if answers; then
                    ensure_db
                    log "already running on $PG_HOST:$PG_PORT ($(local_url))"
                    return 0
                fi
                ;; # starting up or recovering: wait
            zombie) ;; # wait for the killed postmaster to be reaped
            foreign)
                log "removing stale postmaster.pid (its pid now belongs to another program)"
                rm -f "$PGDATA_DIR/postmaster.pid"
                break
                ;;
            *) break ;;
            esac
            (($(date +%s) < deadline)) ||
                die "the server in $PGDATA_DIR ($st) does not answer on $PG_HOST:$PG_PORT after ${START_TIMEOUT}s (log: $LOGFILE)"
            sleep 0.2
        done
    fi
    init_cluster
    write_conf
    clear_stale_socket_locks
    if answers; then
        die "something else answers on $PG_HOST:$PG_PORT; stop it or set PGPORT"
    fi
    log "starting $("$PG_BIN/postgres" --version | awk '{print $3}') on $PG_HOST:$PG_PORT (data $PGDATA_DIR) ..."
    is_root && touch "$LOGFILE" && chown postgres:postgres "$LOGFILE"
    # 9>&-: the server must not inherit our lock; pg_ctl's own chatter goes to stderr
    if ! as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -l "$LOGFILE" -w -t "$START_TIMEOUT" start >&2 9>&-; then
        tail -n 30 "$LOGFILE" >&2 || true
        die "pg_ctl start failed (log: $LOGFILE)"
    fi
    wait_answers
    ensure_db
    log "started on $PG_HOST:$PG_PORT in $((SECONDS - t0))s ($(local_url))"
}

stop_local() {
    if ! find_bin || [[ ! -f $PGDATA_DIR/PG_VERSION ]] || [[ $(postmaster_state) != alive ]]; then
        log "not running"
        return 0
    fi
    as_pg "$PG_BIN/pg_ctl" -D "$PGDATA_DIR" -m fast -w -t 60 stop >&2 ||
        die "pg_ctl stop failed (log: $LOGFILE)"
    log "stopped"
}

status_local() {
    if find_bin && answers && psql_local "$DB_NAME" "select 1" >/dev/null 2>&1; then
        log "running on $PG_HOST:$PG_PORT ($(local_url))"
        return 0
    fi
    log "not running (or not answering) on $PG_HOST:$PG_PORT"
    return 1
}

# ---------------------------------------------------------------- external server

# DATABASE_URL as libpq understands it: no "+driver", no driver-specific query string.
libpq_url() {
    local u=${DATABASE_URL%%\?*}
    echo "$u" | sed -E 's#^([a-zA-Z]+)\+[a-zA-Z0-9_]+://#\1://#'
}

external_answers() {
    local url psql isready
    url=$(libpq_url)
    psql=$(command -v psql || true)
    isready=$(command -v pg_isready || true)
    if find_bin; then
        psql=$PG_BIN/psql
        isready=$PG_BIN/pg_isready
    fi
    if [[ -n $psql ]]; then
        PGCONNECT_TIMEOUT=3 "$psql" -X -q -w -Atc 'select 1' "$url" >/dev/null 2>&1
    elif [[ -n $isready ]]; then
        "$isready" -q -t 3 -d "$url" >/dev/null 2>&1
    else
        python3 - "$url" <<'PY'
import socket, sys
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1])
socket.create_connection((u.hostname or "localhost", u.port or 5432), timeout=3).close()
PY
    fi
}

start_external() {
    local deadline=$(($(date +%s) + START_TIMEOUT))
    log "DATABASE_URL is set: waiting for that server to answer ..."
    until external_answers; do
        (($(date +%s) < deadline)) || die "DATABASE_URL server not answering after ${START_TIMEOUT}s"
        sleep 0.5
    done
    log "answering (external DATABASE_URL)"
}

# ---------------------------------------------------------------- main

usage() {
    echo "usage: $0 {start|stop|restart|status|url}" >&2
    exit 2
}

cmd=${1:-}
[[ -n $cmd ]] || usage

if [[ -n ${DATABASE_URL:-} ]]; then
    case $cmd in
    start) start_external ;;
    stop) log "external DATABASE_URL: not stopped" ;;
    restart) die "restart is not possible for an external DATABASE_URL" ;;
    status)
        if external_answers; then log "answering (external DATABASE_URL)"; else
            log "external DATABASE_URL not answering"
            exit 1
        fi
        ;;
    url) echo "$DATABASE_URL" ;;
    *) usage ;;
    esac
    exit 0
fi

case $cmd in
start)
    lock
    start_local
    ;;
stop)
    lock
    stop_local
    ;;
restart)
    lock
    stop_local
    start_local
    ;;
status) status_local ;;
url) local_url ;;
*) usage ;;
esac

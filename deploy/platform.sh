#!/usr/bin/env bash
# deploy/platform.sh — the distributed mode on one machine: PostgreSQL and Kafka (through
# deploy/postgres.sh and deploy/kafka.sh), the schema migrations, each service as its own
# uvicorn process (or several), and nginx in front serving the one public API.
#
#   deploy/platform.sh up          start what is not running (idempotent), wait until it answers
#   deploy/platform.sh down        stop nginx and the services; PostgreSQL and Kafka keep running
#   deploy/platform.sh down --all  ... and stop PostgreSQL and Kafka too
#   deploy/platform.sh restart     down + up (to apply changed settings)
#   deploy/platform.sh status      print what runs; exit 0 only when everything answers
#   deploy/platform.sh config      write the nginx configuration and check it (nginx -t), print its path
#   deploy/platform.sh env         print the environment the services run with (export lines)
#   deploy/platform.sh token ROLE SUBJECT   a bearer token signed with the platform's secret
#
# Environment:
#   PUBLIC_HOST (127.0.0.1), PUBLIC_PORT (8080)           where nginx serves the API
#   PROVIDERS_PORT (8101), PRICING_PORT (8102),            the first process of each service;
#   ORDERS_PORT (8103), MATCHING_PORT (8104)               replica k (0-based) listens on PORT+10*k
#   PROVIDERS_REPLICAS, PRICING_REPLICAS,                  processes per service (1); replicas of one
#   ORDERS_REPLICAS, MATCHING_REPLICAS                     service share its Kafka consumer group
#   COUPDEMAIN_JWT_SECRET                                  else generated once into var/distributed/jwt_secret
#   DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS                  external servers instead of deploy/*.sh's
#   SERVICE_START_TIMEOUT (120 s), STOP_TIMEOUT (20 s)
#   COUPDEMAIN_DISTRIBUTED_DIR (var/distributed)         pid files, logs, nginx prefix, secret
#   Any other setting (COUPDEMAIN_*, ORDERS_* ...) is passed to the services as it is.
#
# State: var/distributed/ (pid files and logs in run/ and log/, nginx's prefix in nginx/).
# Progress goes to stderr; `status`, `env` and `token` write to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

STATE=${COUPDEMAIN_DISTRIBUTED_DIR:-$ROOT/var/distributed}
RUN=$STATE/run
LOGS=$STATE/log
NGX=$STATE/nginx
NGX_CONF=$NGX/nginx.conf
NGX_TEMPLATE=$ROOT/deploy/nginx.conf.template
SECRET_FILE=$STATE/jwt_secret
DISPATCH=$ROOT/.venv/bin/dispatch

PUBLIC_HOST=${PUBLIC_HOST:-127.0.0.1}
PUBLIC_PORT=${PUBLIC_PORT:-8080}
START_TIMEOUT=${SERVICE_START_TIMEOUT:-120}
STOP_TIMEOUT=${STOP_TIMEOUT:-20}
REPLICA_PORT_STEP=10

SERVICES=(providers pricing orders matching)
declare -A DEFAULT_PORT=([providers]=8101 [pricing]=8102 [orders]=8103 [matching]=8104)

log() { echo "platform: $*" >&2; }
die() {
    echo "platform: ERROR: $*" >&2
    exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }
upper() { tr '[:lower:]' '[:upper:]' <<<"$1"; }

base_port() { # service
    local var
    var="$(upper "$1")_PORT"
    echo "${!var:-${DEFAULT_PORT[$1]}}"
}

replicas() { # service
    local var n
    var="$(upper "$1")_REPLICAS"
    n=${!var:-1}
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer (got '$n')"
    echo "$n"
}

replica_port() { # service k
    echo $(($(base_port "$1") + REPLICA_PORT_STEP * $2))
}

# Every port we will listen on, checked for clashes before anything starts.
check_ports() {
    local svc k p
    declare -A seen=(["$PUBLIC_PORT"]="nginx (PUBLIC_PORT)")
    for svc in "${SERVICES[@]}"; do
        [[ $(base_port "$svc") =~ ^[0-9]+$ ]] || die "$(upper "$svc")_PORT must be a port number"
        for ((k = 0; k < $(replicas "$svc"); k++)); do
            p=$(replica_port "$svc" "$k")
            if [[ -n ${seen[$p]:-} ]]; then
                die "port $p is wanted by both ${seen[$p]} and $svc #$k; set $(upper "$svc")_PORT elsewhere"
            fi
            seen[$p]="$svc #$k"
        done
    done
}

port_open() { # host port
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

http_ok() { # url
    curl -fsS -o /dev/null --max-time 3 "$1" 2>/dev/null
}

lock() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.platform.lock"
    flock -w 300 9 || die "another deploy/platform.sh holds $STATE/.platform.lock"
}

# ---------------------------------------------------------------- settings

jwt_secret() {
    if [[ -n ${COUPDEMAIN_JWT_SECRET:-} ]]; then
        echo "$COUPDEMAIN_JWT_SECRET"
        return
    fi
    if [[ ! -s $SECRET_FILE ]]; then
        mkdir -p "$STATE"
        (umask 077 && head -c 48 /dev/urandom | base64 | tr -d '\n/+=' >"$SECRET_FILE.tmp")
        mv "$SECRET_FILE.tmp" "$SECRET_FILE"
        log "generated a JWT secret in $SECRET_FILE (set COUPDEMAIN_JWT_SECRET to choose one)"
    fi
    cat "$SECRET_FILE"
}

# The environment every service process (and the migration) gets, as NAME=value lines.
service_env() {
    local public_url=http://$PUBLIC_HOST:$PUBLIC_PORT
    [[ $PUBLIC_HOST == 0.0.0.0 ]] && public_url=http://127.0.0.1:$PUBLIC_PORT
    echo "COUPDEMAIN_MODE=distributed"
    echo "DATABASE_URL=$(bash "$ROOT/deploy/postgres.sh" url)"
    echo "KAFKA_BOOTSTRAP_SERVERS=$(bash "$ROOT/deploy/kafka.sh" bootstrap)"
    echo "COUPDEMAIN_JWT_SECRET=$(jwt_secret)"
    echo "COUPDEMAIN_PUBLIC_URL=${COUPDEMAIN_PUBLIC_URL:-$public_url}"
    echo "ORDERS_PRICING_URL=${ORDERS_PRICING_URL:-${COUPDEMAIN_PUBLIC_URL:-$public_url}}"
}

# The service environment as `env` arguments in ENV_ARGS, without this script's own knobs
# (a service's settings class reads its prefix, e.g. ORDERS_*: ORDERS_PORT is ours, not its).
ENV_ARGS=()
build_env_args() {
    local svc line
    ENV_ARGS=()
    for svc in "${SERVICES[@]}"; do
        ENV_ARGS+=(-u "$(upper "$svc")_PORT" -u "$(upper "$svc")_REPLICAS")
    done
    while IFS= read -r line; do ENV_ARGS+=("$line"); done < <(service_env)
}

# ---------------------------------------------------------------- service processes

pid_file() { echo "$RUN/$1.$2.pid"; } # service k
log_file() { echo "$LOGS/$1.$2.log"; }

# The pid in the pid file, if that process is still our `dispatch serve <svc> --port <p>`.
service_pid() { # service k
    local f pid port
    f=$(pid_file "$1" "$2")
    [[ -f $f ]] || return 1
    read -r pid port <"$f" || true
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "dispatch serve $1 --port $port" || return 1
    echo "$pid"
}

pid_port() { # service k -> the port written in the pid file
    local pid port
    read -r pid port <"$(pid_file "$1" "$2")" || true
    echo "${port:-?}"
}

start_service() { # service k
    local svc=$1 k=$2 port pid logf
    port=$(replica_port "$svc" "$k")
    if pid=$(service_pid "$svc" "$k"); then
        if [[ $(pid_port "$svc" "$k") == "$port" ]]; then
            log "$svc #$k already running (pid $pid) on 127.0.0.1:$port"
            return 0
        fi
        log "$svc #$k runs on port $(pid_port "$svc" "$k"), wanted $port: restarting it"
        stop_pids "$svc #$k" "$pid"
    fi
    rm -f "$(pid_file "$svc" "$k")"
    if port_open 127.0.0.1 "$port"; then
        die "port $port (for $svc #$k) is taken by a process that is not ours; stop it or set $(upper "$svc")_PORT"
    fi
    logf=$(log_file "$svc" "$k")
    echo "---- $(date -u +%FT%TZ) start $svc #$k on port $port" >>"$logf"
    # setsid: its own session, so it outlives this shell; 9>&-: do not hold our lock.
    # env, setsid and nohup each exec the next: $! is the service's own pid.
    env "${ENV_ARGS[@]}" setsid nohup "$DISPATCH" serve "$svc" --port "$port" \
        >>"$logf" 2>&1 </dev/null 9>&- &
    echo "$! $port" >"$(pid_file "$svc" "$k")"
    log "started $svc #$k (pid $!) on 127.0.0.1:$port, log $logf"
}

wait_healthy() { # service k
    local svc=$1 k=$2 port pid deadline
    port=$(replica_port "$svc" "$k")
    deadline=$(($(date +%s) + START_TIMEOUT))
    until http_ok "http://127.0.0.1:$port/healthz"; do
        if ! pid=$(service_pid "$svc" "$k"); then
            log "$svc #$k exited during start-up; last lines of $(log_file "$svc" "$k"):"
            tail -n 40 "$(log_file "$svc" "$k")" >&2 || true
            rm -f "$(pid_file "$svc" "$k")"
            die "$svc #$k did not start"
        fi
        if (($(date +%s) >= deadline)); then
            tail -n 40 "$(log_file "$svc" "$k")" >&2 || true
            die "$svc #$k (pid $pid) does not answer /healthz on port $port after ${START_TIMEOUT}s"
        fi
        sleep 0.3
    done
    log "$svc #$k answers on 127.0.0.1:$port"
}

alive() { # pids... -> those still running
    local pid
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && echo "$pid"; done
    return 0
}

# TERM the processes together, wait up to STOP_TIMEOUT for them all, then KILL the rest.
stop_pids() { # label pids...
    local label=$1 deadline
    shift
    (($#)) || return 0
    kill -TERM "$@" 2>/dev/null || true
    deadline=$(($(date +%s) + STOP_TIMEOUT))
    while [[ -n $(alive "$@") ]]; do
        if (($(date +%s) >= deadline)); then
            log "$label: $(alive "$@" | tr '\n' ' ')still running after ${STOP_TIMEOUT}s; sending KILL"
            # shellcheck disable=SC2046 # one pid per word
            kill -KILL $(alive "$@") 2>/dev/null || true
            deadline=$(($(date +%s) + 10))
            while [[ -n $(alive "$@") ]] && (($(date +%s) < deadline)); do sleep 0.1; done
            break
        fi
        sleep 0.1
    done
}

# Replica numbers with a pid file, for one service (whatever *_REPLICAS says now).
known_replicas() { # service
    local f k
    for f in "$RUN/$1".*.pid; do
        [[ -e $f ]] || continue
        k=${f##*/"$1".}
        k=${k%.pid}
        [[ $k =~ ^[0-9]+$ ]] && echo "$k"
    done | sort -n
}

stop_services() { # "service k" words...
    local item svc k pid
    local -a pids=() files=()
    for item in "$@"; do
        read -r svc k <<<"$item"
        if pid=$(service_pid "$svc" "$k"); then
            log "stopping $svc #$k (pid $pid) ..."
            pids+=("$pid")
        fi
        files+=("$(pid_file "$svc" "$k")")
    done
    stop_pids services "${pids[@]}"
    rm -f "${files[@]}"
}

# ---------------------------------------------------------------- nginx

NGINX=
find_nginx() {
    NGINX=$(command -v nginx 2>/dev/null || true)
    [[ -n $NGINX ]] || { [[ -x /usr/sbin/nginx ]] && NGINX=/usr/sbin/nginx; }
    [[ -n $NGINX ]]
}

install_nginx() {
    is_root || die "nginx is not installed and installing it needs root: apt-get install nginx"
    command -v apt-get >/dev/null || die "nginx is not installed and there is no apt-get here"
    log "installing nginx from Debian's packages (apt-get) ..."
    local policy_made=0 rc=0 aptlog=${TMPDIR:-/tmp}/coupdemain-apt-nginx.log
    # keep the package from starting Debian's own nginx on port 80: we run ours
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        policy_made=1
    fi
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx; } \
        >"$aptlog" 2>&1 || rc=$?
    ((policy_made)) && rm -f /usr/sbin/policy-rc.d
    if ((rc != 0)); then
        cat "$aptlog" >&2
        die "apt-get install nginx failed"
    fi
    find_nginx || die "nginx installed but not found on PATH"
    log "installed $("$NGINX" -v 2>&1)"
}

# nginx -e (error log before the configuration is read) exists from 1.19.5 on.
nginx_cmd() {
    local -a argv=("$NGINX" -p "$NGX/" -c "$NGX_CONF")
    if "$NGINX" -h 2>&1 | grep -q -- ' -e '; then argv+=(-e "$NGX/error.log"); fi
    "${argv[@]}" "$@"
}

nginx_pid() { # the master's pid, if it is ours
    local pid
    [[ -f $NGX/nginx.pid ]] || return 1
    pid=$(cat "$NGX/nginx.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "nginx: master process.*$NGX_CONF" || return 1
    echo "$pid"
}

write_nginx_conf() {
    local svc k user_directive=""
    mkdir -p "$NGX/tmp"/{body,proxy,fastcgi,uwsgi,scgi}
    {
        echo "# Written by deploy/platform.sh on every \`up\`; edit the script, not this file."
        for svc in "${SERVICES[@]}"; do
            echo "upstream $svc {"
            for ((k = 0; k < $(replicas "$svc"); k++)); do
                echo "    server 127.0.0.1:$(replica_port "$svc" "$k") max_fails=3 fail_timeout=5s;"
            done
            echo "    keepalive 32;"
            echo "}"
        done
    } >"$NGX/upstreams.conf.tmp"
    mv "$NGX/upstreams.conf.tmp" "$NGX/upstreams.conf"
    # as root, workers would run as nobody and could not write our temp dirs
    is_root && user_directive="user root;"
    sed -e "s#@PREFIX@#$NGX#g" -e "s#@PUBLIC_HOST@#$PUBLIC_HOST#g" \
        -e "s#@PUBLIC_PORT@#$PUBLIC_PORT#g" -e "s#@USER_DIRECTIVE@#$user_directive#g" \
        -e "s#@CONSOLE_DIR@#$ROOT/services/console/static#g" \
        "$NGX_TEMPLATE" >"$NGX_CONF.tmp"
    mv "$NGX_CONF.tmp" "$NGX_CONF"
}

check_nginx_conf() {
    local out
    find_nginx || install_nginx
    write_nginx_conf
    out=$(nginx_cmd -t -q 2>&1) || {
        echo "$out" >&2
        die "nginx refuses $NGX_CONF"
    }
}

start_nginx() {
    local pid deadline
    check_nginx_conf
    if pid=$(nginx_pid); then
        nginx_cmd -s reload 9>&- || die "nginx reload failed (log: $NGX/error.log)"
        log "nginx already running (pid $pid): configuration reloaded"
    else
        rm -f "$NGX/nginx.pid"
        if port_open "$PUBLIC_HOST" "$PUBLIC_PORT"; then
            die "port $PUBLIC_PORT is taken by a process that is not our nginx; stop it or set PUBLIC_PORT"
        fi
        nginx_cmd 9>&- || { tail -n 20 "$NGX/error.log" >&2 || true; die "nginx did not start"; }
        log "nginx started ($("$NGINX" -v 2>&1 | sed 's#.*/##'), config $NGX_CONF)"
    fi
    deadline=$(($(date +%s) + 15))
    until http_ok "http://$(connect_host):$PUBLIC_PORT/healthz"; do
        (($(date +%s) < deadline)) || die "nginx does not answer on $PUBLIC_HOST:$PUBLIC_PORT (log: $NGX/error.log)"
        sleep 0.2
    done
}

stop_nginx() {
    local pid
    if pid=$(nginx_pid); then
        log "stopping nginx (pid $pid) ..."
        stop_pids nginx "$pid"
    fi
    rm -f "$NGX/nginx.pid"
}

connect_host() { [[ $PUBLIC_HOST == 0.0.0.0 ]] && echo 127.0.0.1 || echo "$PUBLIC_HOST"; }

# ---------------------------------------------------------------- commands

cmd_up() {
    local t0=$SECONDS svc k
    [[ -x $DISPATCH ]] || die "$DISPATCH is missing: run make install first"
    command -v curl >/dev/null || die "curl is needed"
    check_ports
    mkdir -p "$RUN" "$LOGS" "$NGX"
    bash "$ROOT/deploy/postgres.sh" start
    bash "$ROOT/deploy/kafka.sh" start
    build_env_args
    log "migrating the four schemas ..."
    env "${ENV_ARGS[@]}" "$DISPATCH" migrate >>"$LOGS/migrate.log" 2>&1 || {
        tail -n 40 "$LOGS/migrate.log" >&2
        die "dispatch migrate failed (log: $LOGS/migrate.log)"
    }
    for svc in "${SERVICES[@]}"; do
        for ((k = 0; k < $(replicas "$svc"); k++)); do start_service "$svc" "$k"; done
    done
    for svc in "${SERVICES[@]}"; do
        for ((k = 0; k < $(replicas "$svc"); k++)); do wait_healthy "$svc" "$k"; done
    done
    start_nginx
    # fewer replicas than last time: stop the extra ones once nginx no longer routes to them
    local -a extra=()
    for svc in "${SERVICES[@]}"; do
        for k in $(known_replicas "$svc"); do
            ((k < $(replicas "$svc"))) || extra+=("$svc $k")
        done
    done
    ((${#extra[@]} == 0)) || stop_services "${extra[@]}"
    log "up in $((SECONDS - t0))s: the API is on http://$(connect_host):$PUBLIC_PORT" \
        "(docs: /services/<name>/docs; tokens: bash deploy/platform.sh token ops ops1)"
}

cmd_down() {
    local all=0 svc k
    [[ ${1:-} == --all ]] && all=1
    [[ -z ${1:-} || $all == 1 ]] || die "usage: $0 down [--all]"
    local -a all_replicas=()
    stop_nginx
    for svc in "${SERVICES[@]}"; do
        for k in $(known_replicas "$svc"); do all_replicas+=("$svc $k"); done
    done
    ((${#all_replicas[@]} == 0)) || stop_services "${all_replicas[@]}"
    if ((all)); then
        bash "$ROOT/deploy/kafka.sh" stop
        bash "$ROOT/deploy/postgres.sh" stop
    else
        log "PostgreSQL and Kafka left running (down --all stops them)"
    fi
    log "down"
}

cmd_status() {
    local ok=0 svc k pid port state
    printf '%-10s %-3s %-6s %-8s %s\n' SERVICE "#" PORT PID STATE
    for svc in "${SERVICES[@]}"; do
        for k in $(known_replicas "$svc"); do
            port=$(pid_port "$svc" "$k")
            if pid=$(service_pid "$svc" "$k"); then
                if http_ok "http://127.0.0.1:$port/readyz"; then
                    state=ready
                elif http_ok "http://127.0.0.1:$port/healthz"; then
                    state="alive, not ready"
                else
                    state="not answering"
                    ok=1
                fi
            else
                pid=- state=stopped ok=1
            fi
            printf '%-10s %-3s %-6s %-8s %s\n' "$svc" "$k" "$port" "$pid" "$state"
        done
        [[ -n $(known_replicas "$svc") ]] || {
            printf '%-10s %-3s %-6s %-8s %s\n' "$svc" - - - stopped
            ok=1
        }
    done
    if pid=$(nginx_pid); then
        if http_ok "http://$(connect_host):$PUBLIC_PORT/healthz"; then state=ready; else
            state="not answering"
            ok=1
        fi
    else
        pid=- state=stopped ok=1
    fi
    printf '%-10s %-3s %-6s %-8s %s\n' nginx 0 "$PUBLIC_PORT" "$pid" "$state"
    if bash "$ROOT/deploy/postgres.sh" status 2>/dev/null; then state=ready; else state=stopped ok=1; fi
    printf '%-10s %-3s %-6s %-8s %s\n' postgres - - - "$state"
    if bash "$ROOT/deploy/kafka.sh" status 2>/dev/null; then state=ready; else state=stopped ok=1; fi
    printf '%-10s %-3s %-6s %-8s %s\n' kafka - - - "$state"
    return "$ok"
}

cmd_env() {
    local line
    while IFS= read -r line; do printf 'export %s=%q\n' "${line%%=*}" "${line#*=}"; done < <(service_env)
}

cmd_token() {
    [[ $# -eq 2 ]] || die "usage: $0 token ROLE SUBJECT (ROLE: client, provider or ops)"
    build_env_args
    env "${ENV_ARGS[@]}" "$DISPATCH" token --role "$1" --subject "$2"
}

usage() {
    echo "usage: $0 {up|down [--all]|restart|status|config|env|token ROLE SUBJECT}" >&2
    exit 2
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift
case $cmd in
up)
    lock
    cmd_up
    ;;
down)
    lock
    cmd_down "$@"
    ;;
restart)
    lock
    cmd_down
    cmd_up
    ;;
status) cmd_status ;;
config)
    lock
    check_ports
    check_nginx_conf
    echo "$NGX_CONF"
    ;;
env) cmd_env ;;
token) cmd_token "$@" ;;
*) usage ;;
esac

#!/usr/bin/env bash
# deploy/kafka.sh — a real single-node Apache Kafka broker (KRaft, broker+controller) on
# 127.0.0.1 for the tests and for distributed mode. Works on a fresh Debian machine:
# the broker's jars come from Maven Central (deploy/kafka/pom.xml), Java/Maven from apt
# when missing.
#
#   deploy/kafka.sh start       start (or find running) and wait until it answers
#   deploy/kafka.sh stop        stop it (TERM, then KILL), data is kept
#   deploy/kafka.sh restart     stop + start, data kept (simulates a broker outage)
#   deploy/kafka.sh status      exit 0 when the broker answers a metadata request
#   deploy/kafka.sh bootstrap   print the bootstrap servers (127.0.0.1:59092)
#   deploy/kafka.sh tool CLASS [ARGS...]
#                               run a Kafka CLI class on the broker's classpath, e.g.
#                               org.apache.kafka.tools.TopicCommand --bootstrap-server ... --list
#
# With KAFKA_BOOTSTRAP_SERVERS set, an external broker is used instead: start only waits
# until it accepts TCP connections, bootstrap prints it, stop does nothing.
#
# Environment: KAFKA_PORT (59092), KAFKA_CONTROLLER_PORT (59093),
#   COUPDEMAIN_STATE (/var/tmp/coupdemain: data, logs, pid under kafka/),
#   COUPDEMAIN_CACHE ($HOME/.cache/coupdemain: jars under kafka-<version>/libs),
#   KAFKA_HEAP_OPTS (-Xms256m -Xmx512m), KAFKA_START_TIMEOUT (60 s), KAFKA_STOP_TIMEOUT (30 s).
# Progress goes to stderr; only `bootstrap` writes to stdout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

KAFKA_VERSION=4.1.1 # keep in sync with <kafka.version> in deploy/kafka/pom.xml
KAFKA_HOST=127.0.0.1
KAFKA_PORT=${KAFKA_PORT:-59092}
KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-59093}
CACHE_DIR=${COUPDEMAIN_CACHE:-${HOME:-/root}/.cache/coupdemain}
STATE_DIR=${COUPDEMAIN_STATE:-/var/tmp/coupdemain}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-60}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

POM=$HERE/kafka/pom.xml
BROKER_LOG4J=$HERE/kafka/log4j2.properties
TOOLS_LOG4J=$HERE/kafka/log4j2-tools.properties
DIST=$CACHE_DIR/kafka-$KAFKA_VERSION
LIBS=$DIST/libs
MARKER=$DIST/libs.complete
KSTATE=$STATE_DIR/kafka
DATA=$KSTATE/data
LOGS=$KSTATE/logs
PIDFILE=$KSTATE/kafka.pid
CONFIG=$KSTATE/server.properties
ADMIN_CONFIG=$KSTATE/admin.properties
CLUSTER_ID_FILE=$KSTATE/cluster.id
LOCKFILE=$KSTATE/.lock

log() { echo "kafka: $*" >&2; }
die() {
    echo "kafka: ERROR: $*" >&2
    exit 1
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------- prerequisites

apt_install() {
    [[ $(id -u) -eq 0 ]] || die "need root to apt-get install $* (or install it yourself)"
    log "installing $* with apt-get ..."
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } \
        >"${TMPDIR:-/tmp}/coupdemain-apt.log" 2>&1; then
        cat "${TMPDIR:-/tmp}/coupdemain-apt.log" >&2
        die "apt-get install $* failed"
    fi
}

java_major() {
    java -version 2>&1 | awk -F'"' '/version/ { split($2, v, "."); print (v[1] == "1" ? v[2] : v[1]); exit }'
}

ensure_java() {
    if ! command -v java >/dev/null 2>&1 || [[ $(java_major) -lt 17 ]]; then
        apt_install openjdk-17-jre-headless
    fi
    [[ $(java_major) -ge 17 ]] || die "Kafka 4 needs Java 17+, found: $(java -version 2>&1 | head -1)"
}

ensure_maven() {
    command -v mvn >/dev/null 2>&1 || apt_install maven
}

# Fetch the broker's jars once; libs.complete records the version and the pom's hash,
# so an edited pom or a new version refetches, and a half-done fetch never counts.
fetch_libs() {
    local want tmp
    want="$KAFKA_VERSION $(sha256sum "$POM" | cut -c1-64)"
    if [[ -f $MARKER && "$(cat "$MARKER")" == "$want" && -d $LIBS ]]; then
        return 0
    fi
    ensure_maven
    local t0
    t0=$(now)
    log "fetching Kafka $KAFKA_VERSION and its dependencies from Maven Central into $LIBS ..."
    mkdir -p "$DIST"
    tmp=$DIST/libs.tmp.$$
    rm -rf "$tmp"
    if ! mvn -B -q -f "$POM" dependency:copy-dependencies \
        -Dkafka.version="$KAFKA_VERSION" -Dlibs.dir="$tmp" >"$DIST/mvn.log" 2>&1; then
        cat "$DIST/mvn.log" >&2
        rm -rf "$tmp"
        die "maven could not fetch Kafka $KAFKA_VERSION (log above, also in $DIST/mvn.log)"
    fi
    for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-tools-$KAFKA_VERSION.jar" "kafka-server-$KAFKA_VERSION.jar"; do
        [[ -f $tmp/$jar ]] || die "maven finished but $jar is missing from $tmp"
    done
    rm -rf "$LIBS"
    mv "$tmp" "$LIBS"
    echo "$want" >"$MARKER"
    log "fetched $(find "$LIBS" -name '*.jar' | wc -l) jars in $(elapsed "$t0")s"
}

# ---------------------------------------------------------------- broker state

# The pid in the pid file, if that process is our broker (not a recycled pid).
broker_pid() {
    local pid
    [[ -f $PIDFILE ]] || return 1
    pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    [[ -r /proc/$pid/cmdline ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $CONFIG" || return 1
    echo "$pid"
}

port_open() { # host port
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# A Kafka Metadata request (v4) over the wire: succeeds when the broker answers with
# itself in the broker list. Needs only python3's standard library.
metadata_probe() { # python host port
    "$1" - "$2" "$3" <<'PY'
import socket, struct, sys
host, port = sys.argv[1], int(sys.argv[2])
client = b"coupdemain-probe"
# header v1: api_key=3 (Metadata), api_version=4, correlation_id, client_id; body: all topics, no auto-create
req = struct.pack(">hhih", 3, 4, 4242, len(client)) + client + struct.pack(">ib", -1, 0)
try:
    s = socket.create_connection((host, port), timeout=3)
    s.settimeout(5)
    s.sendall(struct.pack(">i", len(req)) + req)
    def recv(n):
        buf = b""
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                raise EOFError("connection closed")
            buf += chunk
        return buf
    (size,) = struct.unpack(">i", recv(4))
    resp = recv(size)
    corr, _throttle, nbrokers = struct.unpack_from(">iii", resp, 0)
    off, ports = 12, []
    for _ in range(nbrokers):
        _node, hlen = struct.unpack_from(">ih", resp, off)
        off += 6 + hlen
        bport, rlen = struct.unpack_from(">ih", resp, off)
        off += 6 + max(rlen, 0)
        ports.append(bport)
    sys.exit(0 if corr == 4242 and ports else 1)
except Exception:
    sys.exit(1)
PY
}

run_tool() { # class args...
    java -Xmx256m -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*" "$@"
}

# The real check: Kafka's own admin client lists topics through the broker.
admin_check() {
    timeout 30 java -Xmx256m -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$TOOLS_LOG4J" -cp "$LIBS/*" \
        org.apache.kafka.tools.TopicCommand --bootstrap-server "$KAFKA_HOST:$KAFKA_PORT" \
        --command-config "$ADMIN_CONFIG" --list >/dev/null 2>&1
}

# The system's python3 first: a pyenv shim can fail on a .python-version in the caller's cwd.
python3_bin() {
    if [[ -x /usr/bin/python3 ]]; then echo /usr/bin/python3; else command -v python3; fi
}

# Answering = a metadata round trip (python3) or, where python3 is missing or broken,
# the admin tool.
answering() {
    local py rc=0
    port_open "$KAFKA_HOST" "$KAFKA_PORT" || return 1
    if py=$(python3_bin); then
        (cd / && metadata_probe "$py" "$KAFKA_HOST" "$KAFKA_PORT") || rc=$?
        ((rc <= 1)) && return "$rc" # 0 answered, 1 did not; anything else: python itself failed
    fi
    [[ -d $LIBS ]] && admin_check
}

write_config() {
    mkdir -p "$DATA" "$LOGS"
    cat >"$CONFIG.tmp" <<EOF
# Written by deploy/kafka.sh on every start; edit the script, not this file.
# Single-node KRaft: this process is both the broker and the (only) controller.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT

log.dirs=$DATA
num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true

# internal topics: one replica, few partitions (quicker first consumer-group/transaction use)
offsets.topic.replication.factor=1
offsets.topic.num.partitions=8
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

group.initial.rebalance.delay.ms=0

# after a crash (kill -9) the restarted node waits for its own previous registration to
# expire before it may register again: keep that short (defaults 9 s / 2 s)
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000

# a test box: keep a day of data, small segments
log.retention.hours=24
log.segment.bytes=67108864
log.retention.check.interval.ms=300000

# two cores: fewer threads
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=2
EOF
    mv "$CONFIG.tmp" "$CONFIG"
    cat >"$ADMIN_CONFIG" <<EOF
request.timeout.ms=5000
default.api.timeout.ms=10000
EOF
}

format_storage() {
    [[ -f $DATA/meta.properties ]] && return 0
    local cid
    if [[ -s $CLUSTER_ID_FILE ]]; then
        cid=$(cat "$CLUSTER_ID_FILE")
    else
        cid=$(run_tool kafka.tools.StorageTool random-uuid | tail -1)
        [[ -n $cid ]] || die "could not generate a cluster id"
        echo "$cid" >"$CLUSTER_ID_FILE"
    fi
    log "formatting storage in $DATA (cluster id $cid)"
    run_tool kafka.tools.StorageTool format -t "$cid" -c "$CONFIG" --ignore-formatted >&2 ||
        die "formatting $DATA failed"
}

show_log_tail() {
    log "last lines of $LOGS/server.log and $LOGS/kafka.out:"
    tail -n 30 "$LOGS/server.log" >&2 2>/dev/null || true
    tail -n 30 "$LOGS/kafka.out" >&2 2>/dev/null || true
}

# ---------------------------------------------------------------- local broker

start_local() {
    local t0 pid deadline
    t0=$(now)
    if pid=$(broker_pid) && answering; then
        log "already running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
        return 0
    fi
    if [[ -z ${pid:-} ]]; then
        rm -f "$PIDFILE"
        if port_open "$KAFKA_HOST" "$KAFKA_PORT" || port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; then
            die "port $KAFKA_PORT or $KAFKA_CONTROLLER_PORT on $KAFKA_HOST is taken by a process that is not ours (pid file $PIDFILE); stop it or set KAFKA_PORT/KAFKA_CONTROLLER_PORT"
        fi
        ensure_java
        fetch_libs
        write_config
        format_storage
        log "starting Kafka $KAFKA_VERSION (KRaft, node 1) on $KAFKA_HOST:$KAFKA_PORT ..."
        # setsid: own session, so it outlives this shell; 9>&-: do not hold our lock.
        # shellcheck disable=SC2086
        (cd "$KSTATE" && exec setsid nohup java $HEAP_OPTS -server \
            -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
            -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -XX:+ExitOnOutOfMemoryError \
            -Djava.awt.headless=true -Dkafka.logs.dir="$LOGS" \
            -Dlog4j2.configurationFile="$BROKER_LOG4J" \
            -cp "$LIBS/*" kafka.Kafka "$CONFIG" \
            >>"$LOGS/kafka.out" 2>&1 </dev/null 9>&-) &
        pid=$!
        echo "$pid" >"$PIDFILE"
    else
        log "process $pid is up but not answering yet; waiting"
    fi

    deadline=$(($(date +%s) + START_TIMEOUT))
    # 1) the broker's port opens only once it is unfenced and processing requests
    until port_open "$KAFKA_HOST" "$KAFKA_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail
            rm -f "$PIDFILE"
            die "the broker exited during start-up"
        fi
        if (($(date +%s) >= deadline)); then
            show_log_tail
            die "not answering on $KAFKA_HOST:$KAFKA_PORT after ${START_TIMEOUT}s (still running as pid $pid)"
        fi
        sleep 0.2
    done
    # 2) Kafka's own admin client lists topics through it
    [[ -d $LIBS ]] || fetch_libs
    until admin_check; do
        if ! kill -0 "$pid" 2>/dev/null || (($(date +%s) >= deadline)); then
            show_log_tail
            die "port $KAFKA_PORT is open but the admin client gets no answer"
        fi
        sleep 0.5
    done
    log "ready on $KAFKA_HOST:$KAFKA_PORT (pid $pid, $(elapsed "$t0")s; logs in $LOGS)"
}

stop_local() {
    local pid t0 deadline
    t0=$(now)
    if ! pid=$(broker_pid); then
        rm -f "$PIDFILE"
        if port_open "$KAFKA_HOST" "$KAFKA_PORT"; then
            log "not running from $KSTATE, but something else answers on $KAFKA_HOST:$KAFKA_PORT; left alone"
        else
            log "not running"
        fi
        return 0
    fi
    log "stopping (pid $pid) ..."
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$(($(date +%s) + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null; do
        if (($(date +%s) >= deadline)); then
            log "still running after ${STOP_TIMEOUT}s; sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
            deadline=$(($(date +%s) + 10))
            while kill -0 "$pid" 2>/dev/null && (($(date +%s) < deadline)); do sleep 0.1; done
            break
        fi
        sleep 0.1
    done
    rm -f "$PIDFILE"
    deadline=$(($(date +%s) + 10))
    while port_open "$KAFKA_HOST" "$KAFKA_PORT" || port_open "$KAFKA_HOST" "$KAFKA_CONTROLLER_PORT"; do
        (($(date +%s) < deadline)) || die "ports still open after the broker exited"
        sleep 0.1
    done
    log "stopped ($(elapsed "$t0")s)"
}

status_local() {
    local pid
    if pid=$(broker_pid) && answering; then
        log "running (pid $pid) on $KAFKA_HOST:$KAFKA_PORT"
        return 0
    fi
    if [[ -n ${pid:-} ]]; then
        log "process $pid is up but not answering on $KAFKA_HOST:$KAFKA_PORT"
    else
        log "not running"
    fi
    return 1
}

lock() {
    mkdir -p "$KSTATE"
    exec 9>"$LOCKFILE"
    flock -w 180 9 || die "another deploy/kafka.sh holds $LOCKFILE"
}

# ---------------------------------------------------------------- external broker

external_servers() { # one host:port per line
    local s
    tr ',' '\n' <<<"$KAFKA_BOOTSTRAP_SERVERS" | while read -r s; do
        s=${s// /}
        s=${s#*://}
        [[ -n $s ]] && echo "$s"
    done
}

external_answering() {
    local s
    while read -r s; do
        port_open "${s%:*}" "${s##*:}" && return 0
    done < <(external_servers)
    return 1
}

start_external() {
    local deadline
    deadline=$(($(date +%s) + START_TIMEOUT))
    log "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS: waiting for it to accept connections ..."
    until external_answering; do
        (($(date +%s) < deadline)) || die "$KAFKA_BOOTSTRAP_SERVERS not reachable after ${START_TIMEOUT}s"
        sleep 0.5
    done
    log "ready on $KAFKA_BOOTSTRAP_SERVERS (external)"
}

# ---------------------------------------------------------------- main

usage() {
    echo "usage: $0 {start|stop|restart|status|bootstrap|tool CLASS [ARGS...]}" >&2
    exit 2
}

cmd=${1:-}
[[ -n $cmd ]] || usage
shift

if [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
    case $cmd in
    start) start_external ;;
    stop) log "external broker ($KAFKA_BOOTSTRAP_SERVERS): not stopped" ;;
    restart) die "restart is not possible for an external broker ($KAFKA_BOOTSTRAP_SERVERS)" ;;
    status)
        if external_answering; then log "reachable: $KAFKA_BOOTSTRAP_SERVERS"; else
            log "not reachable: $KAFKA_BOOTSTRAP_SERVERS"
            exit 1
        fi
        ;;
    bootstrap) echo "$KAFKA_BOOTSTRAP_SERVERS" ;;
    tool)
        [[ $# -ge 1 ]] || usage
        ensure_java
        fetch_libs
        run_tool "$@"
        ;;
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
bootstrap) echo "$KAFKA_HOST:$KAFKA_PORT" ;;
tool)
    [[ $# -ge 1 ]] || usage
    ensure_java
    fetch_libs
    run_tool "$@"
    ;;
*) usage ;;
esac

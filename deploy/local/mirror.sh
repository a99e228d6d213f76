#!/usr/bin/env bash
# MirrorMaker 2 between two Kafka clusters, linking the pool topics in both directions
# (docs/pools.md, "Separate clusters: MirrorMaker 2"); by default also a second local broker.
#
#   deploy/local/mirror.sh {start|stop|status|config}
#
# Cluster "a" is the Kafka of `make up` (127.0.0.1:9092); cluster "b" is a second single-node
# broker this script starts with kafka.sh on its own ports and state dir. MirrorMaker 2 runs from
# the same Kafka jars (deploy/local/.cache) plus connect-mirror (deploy/local/kafka/mirror-pom.xml).
# Topic names stay the same on both sides (IdentityReplicationPolicy); a record is mirrored only from
# the cluster it was first written to, so nothing loops (see write_config). Environment overrides:
#   MIRROR_A_ALIAS (a)  MIRROR_A_BOOTSTRAP (127.0.0.1:9092)
#   MIRROR_B_ALIAS (b)  MIRROR_B_BOOTSTRAP (127.0.0.1:$MIRROR_KAFKA_PORT)
#   MIRROR_SECOND_BROKER (true: start/stop the local broker "b"; false: b is an existing cluster)
#   MIRROR_KAFKA_PORT (19092)  MIRROR_KAFKA_CONTROLLER_PORT (19093)
#   MIRROR_STATE_DIR (<repo>/var/mirror: mm2.properties, logs; the second broker's data in ./kafka)
#   MIRROR_TOPICS (regex of the pool topics, any namespace)  MIRROR_REFRESH_SECONDS (5)
#   MIRROR_READY_TIMEOUT (120 s)  MIRROR_HEAP_OPTS (-Xms128m -Xmx512m)
set -euo pipefail

KAFKA_VERSION=4.1.1

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/../.." && pwd)"
MIRROR_KAFKA_PORT="${MIRROR_KAFKA_PORT:-19092}"
MIRROR_KAFKA_CONTROLLER_PORT="${MIRROR_KAFKA_CONTROLLER_PORT:-19093}"
MIRROR_A_ALIAS="${MIRROR_A_ALIAS:-a}"
MIRROR_A_BOOTSTRAP="${MIRROR_A_BOOTSTRAP:-127.0.0.1:9092}"
MIRROR_B_ALIAS="${MIRROR_B_ALIAS:-b}"
MIRROR_B_BOOTSTRAP="${MIRROR_B_BOOTSTRAP:-127.0.0.1:$MIRROR_KAFKA_PORT}"
MIRROR_SECOND_BROKER="${MIRROR_SECOND_BROKER:-true}"
MIRROR_STATE_DIR="${MIRROR_STATE_DIR:-$REPO/var/mirror}"
# pool.<name>.capacity.v1 under any namespace (contracts.topics.pool_capacity); never its .dlq.
MIRROR_TOPICS="${MIRROR_TOPICS:-([a-z0-9-]+\\.)*pool\\.[a-z0-9-]+\\.capacity\\.v1}"
MIRROR_REFRESH_SECONDS="${MIRROR_REFRESH_SECONDS:-5}"
MIRROR_READY_TIMEOUT="${MIRROR_READY_TIMEOUT:-120}"
MIRROR_HEAP_OPTS="${MIRROR_HEAP_OPTS:--Xms128m -Xmx512m}"

CACHE="$SCRIPT_DIR/.cache/kafka-$KAFKA_VERSION"
LIBS="$CACHE/libs"
MIRROR_LIBS="$CACHE/mirror-libs"
MARKER="$CACHE/.mirror-complete"
STATE="$MIRROR_STATE_DIR"
PROPS="$STATE/mm2.properties"
PIDFILE="$STATE/mm2.pid"
OUT="$STATE/mm2.out"
LOG="$STATE/server.log"

log() { echo "mirror.sh: $*" >&2; }

second_broker() {
    KAFKA_PORT="$MIRROR_KAFKA_PORT" KAFKA_CONTROLLER_PORT="$MIRROR_KAFKA_CONTROLLER_PORT" \
        KAFKA_STATE_DIR="$STATE/kafka" KAFKA_HEAP_OPTS="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}" \
        "$SCRIPT_DIR/kafka.sh" "$@"
}

is_running() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must be our MirrorMaker for this state dir.
    grep -qa "org.apache.kafka.connect.mirror.MirrorMaker" "/proc/$pid/cmdline" 2>/dev/null &&
        grep -qa "$PROPS" "/proc/$pid/cmdline" 2>/dev/null
}

fetch_jars() {
    # connect-mirror and connect-mirror-client only: the rest of their closure is the broker's.
    [[ -f "$LIBS/kafka-clients-$KAFKA_VERSION.jar" ]] || {
        log "no Kafka jars in $LIBS: run deploy/local/kafka.sh start once"
        exit 1
    }
    local pom_sum
    pom_sum="$(sha256sum "$SCRIPT_DIR/kafka/mirror-pom.xml" | cut -d' ' -f1)"
    if [[ -f "$MARKER" && "$(head -n 1 "$MARKER")" == "$pom_sum" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || { log "mvn not found (apt-get install -y maven)"; exit 1; }
    log "resolving MirrorMaker 2 ($KAFKA_VERSION) from Maven Central into $MIRROR_LIBS (one-off)"
    local tmp="$CACHE/mirror-libs.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! mvn -q -B -f "$SCRIPT_DIR/kafka/mirror-pom.xml" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime -DexcludeTransitive=true \
        -DoutputDirectory="$tmp" >"$CACHE/mirror-mvn.log" 2>&1; then
        tail -n 40 "$CACHE/mirror-mvn.log" >&2
        log "Maven resolution failed; full log: $CACHE/mirror-mvn.log"
        rm -rf "$tmp"
        exit 1
    fi
    [[ -f "$tmp/connect-mirror-$KAFKA_VERSION.jar" ]] || { log "connect-mirror jar missing after resolution"; exit 1; }
    rm -rf "$MIRROR_LIBS"
    mv "$tmp" "$MIRROR_LIBS"
    { echo "$pom_sum"; ls "$MIRROR_LIBS"; } >"$MARKER"
}

originals_only() {
    # The transforms of one flow (MirrorMaker passes transforms to a flow's connectors only under
    # the flow's prefix, e.g. a->b.transforms).
    local flow="$1"
    cat <<EOF
$flow.transforms=originalsOnly,markCopy
$flow.transforms.originalsOnly.type=org.apache.kafka.connect.transforms.Filter
$flow.transforms.originalsOnly.predicate=isOriginal
$flow.transforms.originalsOnly.negate=true
$flow.transforms.markCopy.type=org.apache.kafka.connect.transforms.DropHeaders
$flow.transforms.markCopy.headers=ce_id
$flow.predicates=isOriginal
$flow.predicates.isOriginal.type=org.apache.kafka.connect.transforms.predicates.HasHeaderKey
$flow.predicates.isOriginal.name=ce_id
EOF
}

write_config() {
    mkdir -p "$STATE"
    cat >"$PROPS.tmp" <<EOF
# Generated by deploy/local/mirror.sh — edits are overwritten on start.
clusters=$MIRROR_A_ALIAS,$MIRROR_B_ALIAS
$MIRROR_A_ALIAS.bootstrap.servers=$MIRROR_A_BOOTSTRAP
$MIRROR_B_ALIAS.bootstrap.servers=$MIRROR_B_BOOTSTRAP
$MIRROR_A_ALIAS->$MIRROR_B_ALIAS.enabled=true
$MIRROR_B_ALIAS->$MIRROR_A_ALIAS.enabled=true
topics=$MIRROR_TOPICS

# Same topic name on both sides: members of a pool agree on pool.<name>.capacity.v1 whatever
# cluster they run on, and capacity consumes exactly that topic.
replication.policy.class=org.apache.kafka.connect.mirror.IdentityReplicationPolicy
# Identity names cannot tell a copy from an original, so MirrorMaker's own cycle check cannot
# either: every Schakel event carries the CloudEvents header ce_id (services/runtime/outbox.py);
# a flow mirrors only records that have it and removes it from the copy. A copy is never mirrored
# again, in any direction (the envelope in the value still carries the id). With more than two
# clusters, link every pair of clusters whose regions share a pool.
$(originals_only "$MIRROR_A_ALIAS->$MIRROR_B_ALIAS")
$(originals_only "$MIRROR_B_ALIAS->$MIRROR_A_ALIAS")

# Only records: no consumer groups are followed (every region reads the pool topic with its own
# group on its own cluster, so there are no offsets to translate), no heartbeats, no topic
# config or ACL sync (capacity creates pool topics with their configuration on each cluster).
groups.exclude=.*
emit.heartbeats.enabled=false
sync.group.offsets.enabled=false
sync.topic.configs.enabled=false
sync.topic.acls.enabled=false
refresh.topics.enabled=true
refresh.topics.interval.seconds=$MIRROR_REFRESH_SECONDS
refresh.groups.interval.seconds=600
# A pool topic is mirrored from its start, so a region joining late sees what was said before.
consumer.auto.offset.reset=earliest
# One pool topic, a few partitions: one task per flow is plenty.
tasks.max=1

# Single-node clusters here: replication factor 1 for the topics MirrorMaker creates.
replication.factor=1
config.storage.replication.factor=1
offset.storage.replication.factor=1
status.storage.replication.factor=1
offset-syncs.topic.replication.factor=1
heartbeats.topic.replication.factor=1
checkpoints.topic.replication.factor=1
EOF
    mv "$PROPS.tmp" "$PROPS"
}

wait_ready() {
    # Ready once each flow's MirrorSourceConnector runs: from then on a record on a pool
    # topic crosses within MIRROR_REFRESH_SECONDS (a topic new to MirrorMaker) or at once.
    local deadline=$((SECONDS + MIRROR_READY_TIMEOUT)) flow ready
    while ((SECONDS < deadline)); do
        if ! is_running; then
            log "MirrorMaker exited during start-up"
            tail -n 40 "$OUT" "$LOG" 2>/dev/null >&2 || true
            exit 1
        fi
        ready=true
        for flow in "$MIRROR_A_ALIAS->$MIRROR_B_ALIAS" "$MIRROR_B_ALIAS->$MIRROR_A_ALIAS"; do
            grep -F "clientId=$flow, " "$LOG" 2>/dev/null |
                grep -qF "Starting connector MirrorSourceConnector" || ready=false
        done
        $ready && return 0
        sleep 0.5
    done
    log "MirrorMaker not ready after ${MIRROR_READY_TIMEOUT}s"
    tail -n 40 "$OUT" "$LOG" 2>/dev/null >&2 || true
    exit 1
}

start() {
    mkdir -p "$STATE"
    if [[ "$MIRROR_SECOND_BROKER" == true ]]; then
        second_broker start
    fi
    if is_running; then
        log "already running (pid $(cat "$PIDFILE")), checking readiness"
    else
        fetch_jars
        write_config
        : >"$LOG"
        log "starting MirrorMaker 2: $MIRROR_A_ALIAS=$MIRROR_A_BOOTSTRAP <-> $MIRROR_B_ALIAS=$MIRROR_B_BOOTSTRAP, topics $MIRROR_TOPICS"
        # shellcheck disable=SC2086  # MIRROR_HEAP_OPTS is a list of options
        setsid nohup java $MIRROR_HEAP_OPTS -XX:TieredStopAtLevel=1 -XX:+UseSerialGC \
            -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
            -Dlog4j2.configurationFile="$SCRIPT_DIR/kafka/log4j2.properties" \
            -Dkafka.logs.dir="$STATE" \
            -cp "$LIBS/*:$MIRROR_LIBS/*" org.apache.kafka.connect.mirror.MirrorMaker "$PROPS" \
            </dev/null >"$OUT" 2>&1 &
        echo $! >"$PIDFILE"
        sleep 0.5
    fi
    wait_ready
    log "ready (pid $(cat "$PIDFILE")); config: $PROPS, logs: $LOG"
}

stop() {
    if is_running; then
        local pid
        pid="$(cat "$PIDFILE")"
        log "stopping MirrorMaker pid $pid"
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$((SECONDS + 30))
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "still alive after 30 s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    else
        log "MirrorMaker not running"
    fi
    rm -f "$PIDFILE"
    if [[ "$MIRROR_SECOND_BROKER" == true ]]; then
        second_broker stop
    fi
}

status() {
    local rc=0
    if is_running; then
        echo "mirrormaker: running (pid $(cat "$PIDFILE")) $MIRROR_A_ALIAS=$MIRROR_A_BOOTSTRAP <-> $MIRROR_B_ALIAS=$MIRROR_B_BOOTSTRAP; logs: $LOG"
    else
        echo "mirrormaker: not running (state dir $STATE)"
        rc=3
    fi
    if [[ "$MIRROR_SECOND_BROKER" == true ]]; then
        second_broker status || rc=3
    fi
    return "$rc"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    config) write_config && cat "$PROPS" ;;
    *)
        echo "usage: $0 {start|stop|status|config}" >&2
        exit 2
        ;;
esac

# Sourced by kafka.sh and mirror.sh: the Kafka jars both run from, and the life of the one java
# process each starts (its pid in $PIDFILE, its config file $PROPS on its command line).
# The caller sets SCRIPT_DIR, KAFKA_VERSION, PIDFILE and PROPS and defines `log`.

CACHE="$SCRIPT_DIR/.cache/kafka-$KAFKA_VERSION"
LIBS="$CACHE/libs"

# shellcheck source=deploy/local/maven-jars.sh
source "$SCRIPT_DIR/maven-jars.sh"

# daemon_running MAIN_CLASS: whether $PIDFILE names a live process running MAIN_CLASS on $PROPS.
daemon_running() {
    [[ -f "$PIDFILE" ]] || return 1
    local pid
    pid="$(cat "$PIDFILE" 2>/dev/null || true)"
    [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a recycled pid: it must be our java process for this state dir.
    grep -qa "$1" "/proc/$pid/cmdline" 2>/dev/null &&
        grep -qa "$PROPS" "/proc/$pid/cmdline" 2>/dev/null
}

# stop_daemon [WHAT]: SIGTERM to the process in $PIDFILE, SIGKILL if it is still there after 30 s.
stop_daemon() {
    local pid
    pid="$(cat "$PIDFILE")"
    log "stopping ${1:+$1 }pid $pid"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + 30))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still alive after 30 s, sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.5
    fi
}

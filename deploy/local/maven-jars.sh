# Sourced (through java-daemon.sh) by kafka.sh and mirror.sh: jars resolved from Maven Central once, into a directory of their own.
# resolve_jars POM DEST MARKER JAR WHAT [mvn args...]: resolves POM's runtime dependencies into DEST
# unless MARKER holds the pom's checksum (editing the pom re-resolves them); fails unless JAR came.
# The caller defines `log` and sets KAFKA_VERSION and CACHE (deploy/local/java-daemon.sh does).
resolve_jars() {
    local pom="$1" dest="$2" marker="$3" jar="$4" what="$5"
    shift 5
    local pom_sum
    pom_sum="$(sha256sum "$pom" | cut -d' ' -f1)"
    if [[ -f "$marker" && "$(head -n 1 "$marker")" == "$pom_sum" ]]; then
        return 0
    fi
    command -v mvn >/dev/null || { log "mvn not found (apt-get install -y maven)"; exit 1; }
    log "resolving $what from Maven Central into $dest (one-off)"
    local name tmp mvn_log
    name="$(basename "$dest")"
    tmp="$CACHE/$name.tmp.$$"
    mvn_log="$CACHE/$name-mvn.log"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    if ! mvn -q -B -f "$pom" -Dkafka.version="$KAFKA_VERSION" \
        dependency:copy-dependencies -DincludeScope=runtime "$@" -DoutputDirectory="$tmp" >"$mvn_log" 2>&1; then
        tail -n 40 "$mvn_log" >&2
        log "Maven resolution failed; full log: $mvn_log"
        rm -rf "$tmp"
        exit 1
    fi
    [[ -f "$tmp/$jar" ]] || { log "$jar missing after resolution"; exit 1; }
    rm -rf "$dest"
    mv "$tmp" "$dest"
    { echo "$pom_sum"; ls "$dest"; } >"$marker"
}

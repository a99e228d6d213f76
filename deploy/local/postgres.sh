#!/usr/bin/env bash
# PostgreSQL from Debian packages for local runs and tests (run as root).
#
#   deploy/local/postgres.sh {start|stop|status}
#
# Installs the server package when missing, starts the cluster "main" of the installed major
# version on 127.0.0.1:5432, ensures role schakel/schakel and the Schakel databases.
# Environment overrides: PG_PORT (5432), PG_READY_TIMEOUT (60 s).
set -euo pipefail

PG_PORT="${PG_PORT:-5432}"
PG_READY_TIMEOUT="${PG_READY_TIMEOUT:-60}"
PG_CLUSTER=main
PG_ROLE=schakel
PG_PASSWORD=schakel
PG_MAX_CONNECTIONS=300
DATABASES=(schakel_intake schakel_contracting schakel_capacity schakel_monitoring schakel_auth schakel_test)

log() { echo "postgres.sh: $*" >&2; }

[[ "$(id -u)" == 0 ]] || { log "run as root (uses pg_ctlcluster / runuser)"; exit 1; }

pg_major() {
    # Highest installed server major version (directory with a postgres binary).
    local v
    v="$(ls -1 /usr/lib/postgresql 2>/dev/null | sort -n | while read -r d; do
        [[ -x "/usr/lib/postgresql/$d/bin/postgres" ]] && echo "$d"
    done | tail -n 1)"
    echo "$v"
}

ensure_installed() {
    if command -v pg_ctlcluster >/dev/null && [[ -n "$(pg_major)" ]]; then
        return 0
    fi
    log "installing PostgreSQL server from Debian (apt-get)"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -q postgresql >/tmp/schakel-apt-postgresql.log 2>&1; then
        apt-get update -q >>/tmp/schakel-apt-postgresql.log 2>&1
        apt-get install -y -q postgresql >>/tmp/schakel-apt-postgresql.log 2>&1 || {
            tail -n 30 /tmp/schakel-apt-postgresql.log >&2
            log "apt-get install postgresql failed; log: /tmp/schakel-apt-postgresql.log"
            exit 1
        }
    fi
}

psql_admin() {
    runuser -u postgres -- psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d postgres "$@"
}

cluster_online() {
    pg_lsclusters -h 2>/dev/null | awk -v v="$VER" -v c="$PG_CLUSTER" '$1==v && $2==c {print $4}' |
        grep -q online
}

wait_ready() {
    local deadline=$((SECONDS + PG_READY_TIMEOUT))
    until pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; do
        if ((SECONDS >= deadline)); then
            log "not ready after ${PG_READY_TIMEOUT}s"
            tail -n 30 "$LOGFILE" >&2 || true
            exit 1
        fi
        sleep 0.5
    done
}

start() {
    ensure_installed
    VER="$(pg_major)"
    LOGFILE="/var/log/postgresql/postgresql-$VER-$PG_CLUSTER.log"
    if [[ ! -d "/etc/postgresql/$VER/$PG_CLUSTER" ]]; then
        log "creating cluster $VER/$PG_CLUSTER on port $PG_PORT"
        pg_createcluster "$VER" "$PG_CLUSTER" --port "$PG_PORT" >/dev/null
    fi
    local conf="/etc/postgresql/$VER/$PG_CLUSTER"
    # Listen on loopback only, on the expected port (pg_conftool edits postgresql.conf in place).
    pg_conftool "$VER" "$PG_CLUSTER" set listen_addresses 'localhost'
    pg_conftool "$VER" "$PG_CLUSTER" set port "$PG_PORT"
    # Password auth for TCP connections from 127.0.0.1 (Debian's default hba has this line
    # already; add it when a customised hba lacks it).
    if ! grep -Eq '^[[:space:]]*host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+(scram-sha-256|md5)' "$conf/pg_hba.conf"; then
        log "adding scram-sha-256 rule for 127.0.0.1 to $conf/pg_hba.conf"
        sed -i '1i host    all             all             127.0.0.1/32            scram-sha-256' "$conf/pg_hba.conf"
        cluster_online && pg_ctlcluster "$VER" "$PG_CLUSTER" reload
    fi

    if ! cluster_online; then
        log "starting cluster $VER/$PG_CLUSTER"
        pg_ctlcluster "$VER" "$PG_CLUSTER" start
    fi
    wait_ready

    local maxconn
    maxconn="$(psql_admin -At -c 'SHOW max_connections')"
    if ((maxconn < PG_MAX_CONNECTIONS)); then
        log "raising max_connections $maxconn -> $PG_MAX_CONNECTIONS (restart)"
        psql_admin -c "ALTER SYSTEM SET max_connections = $PG_MAX_CONNECTIONS"
        pg_ctlcluster "$VER" "$PG_CLUSTER" restart
        wait_ready
    fi

    psql_admin <<EOF
DO \$\$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$PG_ROLE') THEN
    CREATE ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  ELSE
    ALTER ROLE $PG_ROLE LOGIN CREATEDB PASSWORD '$PG_PASSWORD';
  END IF;
END
\$\$;
EOF
    local db
    for db in "${DATABASES[@]}"; do
        if [[ "$(psql_admin -At -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" != 1 ]]; then
            psql_admin -c "CREATE DATABASE $db OWNER $PG_ROLE"
        fi
    done
    # Verify the password path the services use.
    PGPASSWORD="$PG_PASSWORD" psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U "$PG_ROLE" -d schakel_test \
        -At -c 'SELECT 1' >/dev/null || { log "password login as $PG_ROLE failed"; exit 1; }
    log "ready on 127.0.0.1:$PG_PORT (PostgreSQL $VER); logs: $LOGFILE"
}

stop() {
    VER="$(pg_major)"
    if [[ -z "$VER" ]] || ! cluster_online; then
        log "not running"
        return 0
    fi
    pg_ctlcluster "$VER" "$PG_CLUSTER" stop -m fast
    log "stopped; logs: /var/log/postgresql/postgresql-$VER-$PG_CLUSTER.log"
}

status() {
    VER="$(pg_major)"
    if [[ -n "$VER" ]] && cluster_online; then
        echo "postgres: running (PostgreSQL $VER/$PG_CLUSTER on 127.0.0.1:$PG_PORT); logs: /var/log/postgresql/postgresql-$VER-$PG_CLUSTER.log"
        return 0
    fi
    echo "postgres: not running"
    return 3
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *)
        echo "usage: $0 {start|stop|status}" >&2
        exit 2
        ;;
esac

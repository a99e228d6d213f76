#!/usr/bin/env bash
# Kafka and PostgreSQL on this machine, without Docker (started in parallel; idempotent).
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
KAFKA_PORT="${KAFKA_PORT:-9092}"
PG_PORT="${PG_PORT:-5432}"

"$SCRIPT_DIR/postgres.sh" start &
pg_pid=$!
"$SCRIPT_DIR/kafka.sh" start &
kafka_pid=$!

failed=0
wait "$pg_pid" || { echo "up.sh: PostgreSQL failed to start" >&2; failed=1; }
wait "$kafka_pid" || { echo "up.sh: Kafka failed to start" >&2; failed=1; }
((failed == 0)) || exit 1

echo "Kafka 127.0.0.1:$KAFKA_PORT, PostgreSQL postgresql://schakel:schakel@127.0.0.1:$PG_PORT/<db>"

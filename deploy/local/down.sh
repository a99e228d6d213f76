#!/usr/bin/env bash
# Stops what up.sh started (Kafka first, then PostgreSQL); harmless when already stopped.
set -euo pipefail
SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
rc=0
"$SCRIPT_DIR/kafka.sh" stop || rc=1
"$SCRIPT_DIR/postgres.sh" stop || rc=1
exit "$rc"

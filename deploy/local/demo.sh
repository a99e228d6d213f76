#!/usr/bin/env bash
# The whole system on this machine: Kafka, PostgreSQL, the four services and a demo region.
# Ctrl-C stops the services (`make down` stops Kafka and PostgreSQL too).
# `demo.sh --check` starts everything, seeds the demo, checks readiness and stops again.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="$REPO/.venv/bin/python"
LOGS="$REPO/var/demo"
mkdir -p "$LOGS"
cd "$REPO"

"$REPO/deploy/local/up.sh"

declare -A PORTS=([intake]=8001 [contracting]=8002 [capacity]=8003 [monitoring]=8004)
pids=()
stop_services() {
    trap - INT TERM EXIT
    ((${#pids[@]})) || return 0
    echo "Stopping the services..."
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop_services INT TERM EXIT

for service in intake contracting capacity monitoring; do
    if curl -fs "http://127.0.0.1:${PORTS[$service]}/healthz" >/dev/null 2>&1; then
        echo "Port ${PORTS[$service]} already answers: is a $service (or another demo) running?" >&2
        exit 1
    fi
    "$PYTHON" -m "services.$service" >"$LOGS/$service.log" 2>&1 &
    pids+=($!)
    echo "$service: http://127.0.0.1:${PORTS[$service]}/docs  (log: $LOGS/$service.log)"
done

"$PYTHON" "$REPO/deploy/local/demo_seed.py" --keys "$LOGS/keys.txt"

if [[ "${1:-}" == "--check" ]]; then
    exit 0
fi
echo
echo "Demo region running. Dashboard metrics: http://127.0.0.1:8004/metrics — Ctrl-C stops the services."
wait "${pids[@]}"

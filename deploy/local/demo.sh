#!/usr/bin/env bash
# The whole system on this machine: Kafka, PostgreSQL, the four services and the region simulator.
# Ctrl-C stops the services and the simulator (`make down` stops Kafka and PostgreSQL too).
# The simulator first plays the past year up to today in about half a minute (nothing it reports is
# dated in the future), ending with a shortage open, then keeps the region going in rounds of today.
# `demo.sh --check` plays only the past month as fast as it goes, checks the dashboard has data, and stops.
# `demo.sh --regions 2` adds Eemland, Gooi en Vechtstreek's partner in pool midden-nederland, on the same
# Kafka and PostgreSQL (docs/pools.md, "Two regions in the demo").
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
PYTHON="$REPO/.venv/bin/python"
LOGS="$REPO/var/demo"
KEYS="$LOGS/keys.txt"
CHECK=false
# --replicas N: N processes of every service, sharing its port (SO_REUSEPORT), one Kafka consumer
# group and one database — what a second replica in production does. Kill one (`kill -9`) and the
# demo goes on: the kernel sends new connections to the others, its partitions move to them.
REPLICAS=1
REGIONS=1
while (($#)); do
    case "$1" in
        --check) CHECK=true ;;
        --replicas) REPLICAS="${2:?--replicas needs a number}"; shift ;;
        --replicas=*) REPLICAS="${1#--replicas=}" ;;
        --regions) REGIONS="${2:?--regions needs 1 or 2}"; shift ;;
        --regions=*) REGIONS="${1#--regions=}" ;;
        *) echo "usage: demo.sh [--check] [--replicas N] [--regions 1|2]" >&2; exit 2 ;;
    esac
    shift
done
[[ "$REPLICAS" =~ ^[1-9][0-9]*$ ]] || { echo "--replicas must be a positive number" >&2; exit 2; }
[[ "$REGIONS" == 1 || "$REGIONS" == 2 ]] || { echo "--regions must be 1 or 2" >&2; exit 2; }
mkdir -p "$LOGS"
cd "$REPO"

"$REPO/deploy/local/up.sh"

# Intake's secrets (pseudonym key, encryption key): made once per machine, never the public
# development ones, so the demo runs intake exactly as production would.
SECRETS="$LOGS/intake-secrets.env"
if [[ ! -s "$SECRETS" ]]; then
    (umask 077 && "$PYTHON" -c 'import secrets; from cryptography.fernet import Fernet
print("SCHAKEL_CLIENT_REF_SECRET=" + secrets.token_hex(32))
print("SCHAKEL_ENCRYPTION_KEY=" + Fernet.generate_key().decode())' >"$SECRETS")
fi
set -a; source "$SECRETS"; set +a

# The simulator plays days in fractions of a second, the services' clocks do not: escalation timers
# shrink to match (hours of the demo's compressed time), so escalations show up on the schakelfunctie page.
# Unset it, or run the services yourself, to get the real defaults (4 h / 2 and 10 working days).
DEMO_ESCALATION='{"crisis": {"unit": "hours", "to_schakelfunctionaris": 0.01, "to_expertteam": 0.03},
  "spoed": {"unit": "hours", "to_schakelfunctionaris": 0.02, "to_expertteam": 0.05},
  "regulier": {"unit": "hours", "to_schakelfunctionaris": 0.05, "to_expertteam": 0.1}}'
export SCHAKEL_ESCALATION="${SCHAKEL_ESCALATION:-$DEMO_ESCALATION}"

declare -A PORTS=([intake]=8001 [contracting]=8002 [capacity]=8003 [monitoring]=8004)
# The second region (--regions 2): Eemland, a member of pool midden-nederland with Gooi en Vechtstreek,
# on ports 8012-8014, in its own topic namespace and its own schema of each database (its key store
# too). Both regions leave the pool topic without a namespace, so they share pool.midden-nederland.capacity.v1.
# Eemland runs no intake: the region registry (contracts/data/regions.json) does not list its
# municipalities yet, and the pool needs only its places. Its simulator admits its providers and
# reports their places; Gooi en Vechtstreek's ends its year with a JeugdzorgPlus shortage.
SECOND=eemland
SECOND_LOGS="$LOGS/$SECOND"
SECOND_KEYS="$SECOND_LOGS/keys.txt"
declare -A SECOND_PORTS=([contracting]=8012 [capacity]=8013 [monitoring]=8014)
EEMLAND_CODES=0307,0308,0313,0317,0327,0342,0351
EEMLAND_NAMES='{"0307": "Amersfoort", "0308": "Baarn", "0313": "Bunschoten", "0317": "Eemnes",
  "0327": "Leusden", "0342": "Soest", "0351": "Woudenberg"}'
second_region_env=(
    SCHAKEL_REGION="$SECOND" SCHAKEL_TOPIC_NAMESPACE="$SECOND" SCHAKEL_POOL_TOPIC_NAMESPACE=""
    SCHAKEL_DB_SCHEMA="$SECOND" SCHAKEL_AUTH_DB_SCHEMA="$SECOND"
    SCHAKEL_REGION_MUNICIPALITIES="$EEMLAND_CODES" SCHAKEL_MUNICIPALITIES="$EEMLAND_NAMES"
    SCHAKEL_CAPACITY_URL="http://127.0.0.1:${SECOND_PORTS[capacity]}"
    SCHAKEL_SIM_CONTRACTING_URL="http://127.0.0.1:${SECOND_PORTS[contracting]}"
    SCHAKEL_SIM_CAPACITY_URL="http://127.0.0.1:${SECOND_PORTS[capacity]}"
    SCHAKEL_SIM_MONITORING_URL="http://127.0.0.1:${SECOND_PORTS[monitoring]}"
)
pids=()
stop_all() {
    trap - INT TERM EXIT
    ((${#pids[@]})) || return 0
    echo "Stopping the simulator and the services..."
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all INT TERM EXIT

# port_free PORT SERVICE: stop the demo when something answers on PORT already.
port_free() {
    if curl -fs "http://127.0.0.1:$1/healthz" >/dev/null 2>&1; then
        echo "Port $1 already answers: is a $2 (or another demo) running?" >&2
        exit 1
    fi
}

for service in intake contracting capacity monitoring; do
    port_free "${PORTS[$service]}" "$service"
    for ((replica = 1; replica <= REPLICAS; replica++)); do
        log="$LOGS/$service.log"
        ((REPLICAS > 1)) && log="$LOGS/$service-$replica.log"
        SCHAKEL_REUSE_PORT=$( ((REPLICAS > 1)) && echo true || echo false) \
            "$PYTHON" -m "services.$service" >"$log" 2>&1 &
        pids+=($!)
    done
done
# Monitoring's region decides whose pool view it shows; region 1 keeps every default.
if ((REGIONS == 2)); then
    mkdir -p "$SECOND_LOGS"
    for service in contracting capacity monitoring; do
        port="${SECOND_PORTS[$service]}"
        port_free "$port" "$service"
        env "${second_region_env[@]}" SCHAKEL_PORT="$port" \
            "$PYTHON" -m "services.$service" >"$SECOND_LOGS/$service.log" 2>&1 &
        pids+=($!)
    done
fi

rm -f "$KEYS"
# A new seed per start: the same youths referred twice would meet OP259 (no stacking) at intake.
SEED="${SCHAKEL_SIM_SEED:-$(date +%s)}"
if $CHECK; then
    sim_args=(--days 30 --speed 50 --scale 0.5 --seed "$SEED")
else
    sim_args=(--days 365 --speed "${SCHAKEL_SIM_SPEED:-12}" --scale 0.5 --live --seed "$SEED")
fi
# With a pool partner, the shortage the year ends with is one of JeugdzorgPlus, the pooled setting.
((REGIONS == 2)) && sim_args+=(--pooled-shortage)
"$PYTHON" -m services.sim "${sim_args[@]}" --keys-file "$KEYS" >"$LOGS/simulator.log" 2>&1 &
sim_pid=$!
pids+=($sim_pid)
if ((REGIONS == 2)); then
    rm -f "$SECOND_KEYS"
    second_sim_args=(--region "$SECOND" --places-only --seed "$SEED")
    $CHECK || second_sim_args+=(--live)
    env "${second_region_env[@]}" "$PYTHON" -m services.sim "${second_sim_args[@]}" --keys-file "$SECOND_KEYS" \
        >"$SECOND_LOGS/simulator.log" 2>&1 &
    second_sim_pid=$!
    pids+=($second_sim_pid)
fi

# The simulator writes its keys first, then waits for every service to be ready.
# keys_written KEYS PID WHO LOG: wait for the simulator PID's keys file; stop the demo if it stopped.
keys_written() {
    for _ in $(seq 1 600); do
        [[ -s "$1" ]] && break
        kill -0 "$2" 2>/dev/null || { echo "$3 stopped; see $4" >&2; exit 1; }
        sleep 0.1
    done
}
keys_written "$KEYS" "$sim_pid" "The simulator" "$LOGS/simulator.log"
key() { grep "^$1 " "$KEYS" | head -n 1 | cut -d' ' -f3; }
# Outside the text below: bash cannot parse $(( )) nested in ${ } within a here-document.
service_pids="${pids[*]:0:4*REPLICAS}"
second_region_text=""
if ((REGIONS == 2)); then
    keys_written "$SECOND_KEYS" "$second_sim_pid" "Eemland's simulator" "$SECOND_LOGS/simulator.log"
    second_region_text="
  Second region: Eemland, in pool midden-nederland with Gooi en Vechtstreek (topic namespace eemland,
  schema eemland in each database; both share pool.midden-nederland.capacity.v1). Its providers have
  JeugdzorgPlus room while Gooi en Vechtstreek's year ends short of it: see both pool views.
    Dashboard:        http://127.0.0.1:${SECOND_PORTS[monitoring]}/
    Pools:            http://127.0.0.1:8003/v1/pools  and  http://127.0.0.1:${SECOND_PORTS[capacity]}/v1/pools
                      (each with its own region's schakelfunctionaris key)
    API docs:         http://127.0.0.1:${SECOND_PORTS[contracting]}/docs  contracting, :${SECOND_PORTS[capacity]} capacity, :${SECOND_PORTS[monitoring]} monitoring (no intake)
    schakelfunctionaris  $(grep '^schakelfunctionaris ' "$SECOND_KEYS" | cut -d' ' -f3)   (all keys: $SECOND_KEYS)
"
fi

cat <<TEXT

Schakel demo — a simulated Gooi en Vechtstreek (seed $SEED): the past year up to today fills the
dashboard within a minute, then the region goes on live (a round of today every few seconds).

  Dashboard:        http://127.0.0.1:8004/
  Schakelfunctie:   http://127.0.0.1:8004/schakelfunctie   (log in with the schakelfunctionaris key)
  API docs:         http://127.0.0.1:8001/docs  intake
                    http://127.0.0.1:8002/docs  contracting
                    http://127.0.0.1:8003/docs  capacity     (events: /asyncapi on each service)
                    http://127.0.0.1:8004/docs  monitoring

  Demo API keys (all of them in $KEYS):
    schakelfunctionaris  $(key schakelfunctionaris)
    expertteam           $(key expertteam)
    operator             $(key operator)
    gemeente $(grep '^gemeente ' "$KEYS" | head -n 1 | cut -d' ' -f2)        $(key gemeente)
    provider $(grep '^provider ' "$KEYS" | tail -n 1 | cut -d' ' -f2)    $(grep '^provider ' "$KEYS" | tail -n 1 | cut -d' ' -f3)
    referrer $(grep '^referrer ' "$KEYS" | head -n 1 | cut -d' ' -f2) $(key referrer)

  Replicas: $REPLICAS of each service (process ids: $service_pids)
$second_region_text  Logs: $LOGS/*.log — Ctrl-C stops the simulator and the services; \`make down\` stops Kafka and PostgreSQL.
TEXT

if $CHECK; then
    if ! wait "$sim_pid"; then
        echo "The simulator failed; see $LOGS/simulator.log" >&2
        exit 1
    fi
    if ((REGIONS == 2)) && ! wait "$second_sim_pid"; then
        echo "Eemland's simulator failed; see $SECOND_LOGS/simulator.log" >&2
        exit 1
    fi
    "$PYTHON" - "$(key operator)" <<'PY'
import sys, time, httpx
headers = {"Authorization": f"Bearer {sys.argv[1]}"}
deadline = time.monotonic() + 60
while True:
    totals = httpx.get("http://127.0.0.1:8004/v1/overview", headers=headers, timeout=10).json()["totals"]
    tiles = httpx.get("http://127.0.0.1:8004/v1/capacity", timeout=10).json()["settings"]
    if totals["referrals_in"] and totals["care_started"] and tiles:
        print(f"check: dashboard has data: {totals['referrals_in']} referrals, {len(tiles)} settings")
        break
    if time.monotonic() > deadline:
        sys.exit(f"check: the dashboard has no data after 60 s: {totals}")
    time.sleep(0.5)
PY
    if ((REGIONS == 2)); then
        # The pool links them: Gooi en Vechtstreek's capacity sees its own JeugdzorgPlus shortage and
        # Eemland's free place, told over the pool topic — or that place already held for one of its
        # youths (a cross-region proposal: Eemland runs no intake, so a place reserved there is ours).
        "$PYTHON" - "$(key schakelfunctionaris)" <<'PY'
import sys, time, httpx
headers = {"Authorization": f"Bearer {sys.argv[1]}"}
deadline = time.monotonic() + 60
while True:
    pools = httpx.get("http://127.0.0.1:8003/v1/pools", headers=headers, timeout=10).json()["pools"]
    pool = next(p for p in pools if p["name"] == "midden-nederland")
    jzp = next(s for s in pool["figures"] if s["setting"] == "jeugdzorgplus")
    here = next(r for r in jzp["regions"] if r["region"] == "gooi-en-vechtstreek")
    there = next(r for r in jzp["regions"] if r["region"] == "eemland")
    if (jzp["shortage_here"] or here["free"] == 0) and (there["free"] or there["reserved"]):
        print(f"check: pool midden-nederland: JeugdzorgPlus short in Gooi en Vechtstreek (free {here['free']}, "
              f"shortage_here {jzp['shortage_here']}); Eemland {there['free']} free, {there['reserved']} reserved")
        break
    if time.monotonic() > deadline:
        sys.exit(f"check: no JeugdzorgPlus shortage here with room in Eemland after 60 s: {jzp}")
    time.sleep(0.5)
PY
    fi
    exit 0
fi
wait "${pids[@]}"

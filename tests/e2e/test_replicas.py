"""Replicas that keep every promise (issue 13): two processes of every service, each pair sharing one
port (SO_REUSEPORT, as ``demo.sh --replicas 2`` runs them), one Kafka consumer group and one
database. The simulator plays a month over HTTP; halfway, one replica of each service is killed
with SIGKILL. Afterwards everything the simulator was answered 2xx for is counted exactly once in
monitoring's read models, a webhook receiver got every alert of its audience once and in order
(verified as a Standard Webhooks receiver would), each timer fired once, and nothing was
dead-lettered.

The capacity replica killed is the one posting an alert to the webhook at that moment (the receiver
holds the post open until the kill): the other must take the webhook over once the dead one's lease
runs out, and send that alert again, once. Figures of the run go to test-artifacts/replicas.json."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook

from services.capacity.audience import audience
from services.runtime.deadletters import OpsSettings, read_dead_letters
from services.runtime.roles import Role
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, Replicas, create_key, replicas
from tests.support.server import free_port, serving

SERVICES = ("intake", "contracting", "capacity", "monitoring")
DAYS = 30
HALFWAY = f"day {DAYS // 2} ("  # the simulator's progress line for the middle day
SETTLE_SECONDS = 120.0  # after the run: consumers rebalance, and a dead replica's webhook lease lapses (35 s)
POSTING_WITHIN = 30.0  # how long after halfway an alert may take to be posted, before capacity dies anyway
# The demo's compressed escalation timers, shorter still (under a second): a youth not placed at
# once escalates to the schakelfunctionaris and then to the expert team, while two replicas run
# the timers every second.
ESCALATION = {
    urgency: {"unit": "hours", "to_schakelfunctionaris": 0.0001, "to_expertteam": 0.0002}
    for urgency in ("crisis", "spoed", "regulier")
}
REPORT = ARTIFACTS / "replicas.json"


@dataclass
class Delivery:
    webhook_id: str
    body: bytes
    headers: dict[str, str]


@dataclass
class Receiver:
    """A webhook endpoint that records every delivery and answers 204; while ``hold`` is set, it
    keeps the posts it received open until the hold is released."""

    deliveries: list[Delivery] = field(default_factory=list)
    hold: asyncio.Event | None = None
    in_flight: int = 0
    app: FastAPI = field(default_factory=FastAPI)

    def __post_init__(self) -> None:
        self.app.post("/hook")(self._receive)

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        # Seen once it arrived, whether or not its sender lives to hear the answer.
        self.deliveries.append(Delivery(request.headers["webhook-id"], body, dict(request.headers)))
        if self.hold is not None:
            self.in_flight += 1
            await self.hold.wait()
            self.in_flight -= 1
        return Response(status_code=204)

    def release(self) -> None:
        if self.hold is not None:
            self.hold.set()
            self.hold = None


@dataclass
class System:
    """The running replicas, and SQL on each service's schema."""

    infra: Infrastructure
    isolation: Isolation
    services: dict[str, Replicas]

    def url(self, name: str) -> str:
        return self.services[name].url

    async def fetch(self, service: str, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            self.infra.database_url, server_settings={"search_path": f"{self.isolation.schema}_{service}"}
        )
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()


@dataclass
class Run:
    """What the simulator reported: its ledger of 2xx answers by kind, and its counts."""

    ledger: dict[str, list[str]]
    counts: dict[str, int]
    killed: dict[str, str]

    def ids(self, kind: str) -> set[str]:
        return set(self.ledger.get(kind, []))


# --- starting the system and playing the month --------------------------------------------------


@asynccontextmanager
async def two_of_everything(env: dict[str, str], infra: Infrastructure, isolation: Isolation) -> AsyncIterator[System]:
    with ExitStack() as stack:
        ports = {name: free_port() for name in SERVICES}
        service_env = {
            **env,
            # Partitions to share: with one, a group's second member would only ever wait.
            "SCHAKEL_KAFKA_PARTITIONS": "3",
            "SCHAKEL_CAPACITY_URL": f"http://127.0.0.1:{ports['capacity']}",
            "SCHAKEL_ESCALATION": json.dumps(ESCALATION),
            "SCHAKEL_TIMER_INTERVAL_SECONDS": "1",
            "SCHAKEL_WEBHOOK_ALLOW_HTTP": "true",
        }
        started = {
            name: stack.enter_context(replicas(name, ports[name], service_env, f"e2e-replicas-{name}"))
            for name in SERVICES
        }
        await asyncio.gather(*(asyncio.to_thread(pair.wait_ready) for pair in started.values()))
        yield System(infra, isolation, started)


async def play_a_month_killing_one_of_each_halfway(
    system: System, receiver: Receiver, hook: dict, env: dict[str, str], workdir: Path
) -> Run:
    ledger_path, keys_file = workdir / "ledger.jsonl", workdir / "keys.txt"
    simulator = await asyncio.create_subprocess_exec(
        *[sys.executable, "-m", "services.sim", "--seed", "13", "--days", str(DAYS), "--scale", "0.5"],
        # As fast as the services answer: the kill lands among calls in flight, not in a pause.
        *["--speed", "50", "--keys-file", str(keys_file), "--ledger", str(ledger_path)],
        *(f"--{name}={system.url(name)}" for name in SERVICES),
        cwd=REPO,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert simulator.stdout is not None and simulator.stderr is not None
    killed: dict[str, str] = {}
    killing: asyncio.Task[None] | None = None
    log: list[str] = []
    async for raw in simulator.stderr:
        log.append(raw.decode())
        if HALFWAY in log[-1] and killing is None:
            killing = asyncio.create_task(_kill_one_of_each(system, receiver, hook, killed, log))
    summary = (await simulator.stdout.read()).decode()
    returncode = await simulator.wait()
    if killing is not None:
        await killing
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "e2e-replicas-simulator.log").write_text("".join(log) + summary)
    assert returncode == 0, "".join(log[-30:])
    assert killing is not None, "the simulator never reached the middle of the month"
    assert all(pair.alive() == 1 for pair in system.services.values())

    ledger: dict[str, list[str]] = {}
    for line in ledger_path.read_text().splitlines():
        entry = json.loads(line)
        ledger.setdefault(entry["kind"], []).append(entry["id"])
    counts = {what: int(n) for what, n in (item.rsplit(": ", 1) for item in summary.strip().split(", "))}
    return Run(ledger, counts, killed)


async def _kill_one_of_each(
    system: System, receiver: Receiver, hook: dict, killed: dict[str, str], log: list[str]
) -> None:
    """SIGKILL one replica of each service now; for capacity, the one posting the next alert to the
    webhook, killed while the receiver holds that post open."""
    receiver.hold = asyncio.Event()
    for name in ("intake", "contracting", "monitoring"):
        killed[name] = f"pid {system.services[name].kill9(0)}"
    capacity = system.services["capacity"]

    async def posting() -> int | None:
        if not receiver.in_flight:
            return None
        [row] = await system.fetch("capacity", "SELECT leased_by FROM webhook WHERE id = $1::uuid", hook["id"])
        return int(row["leased_by"].split(":")[1]) if row["leased_by"] else None

    try:
        pid = await eventually(posting, timeout=POSTING_WITHIN, interval=0.02, what="an alert posted")
        index = [p.pid for p in capacity.processes].index(pid)
        killed["capacity"] = f"pid {capacity.kill9(index)}, posting an alert"
    except AssertionError:
        killed["capacity"] = f"pid {capacity.kill9(0)}, no alert posted within {POSTING_WITHIN:.0f} s"
    finally:
        receiver.release()
    log.append(f"--- test: killed -9 {killed}\n")


async def _refer_a_youth_nobody_can_place(system: System, env: dict[str, str]) -> str:
    """A crisis referral before any provider is admitted: nobody can be proposed, so the timers
    escalate it within a second or two whatever pace the simulator keeps later. Returns its id once
    capacity has raised the first escalation, so the month starts with the timers exercised."""
    referrer = {"Authorization": f"Bearer {await asyncio.to_thread(create_key, 'referrer', '03:01234567', env)}"}
    async with httpx.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{system.url('intake')}/v1/referrals",
            headers=referrer,
            json={
                "client": {"bsn": "123456782", "birth_date": "2010-02-14", "municipality_code": "1942"},
                "referrer": {"type": "03", "agb": "01234567"},
                "product_category": "46",
                "setting": "crisisplek",
                "settings": ["crisisplek"],
                "urgency": "crisis",
                "ambulant_tried": False,
            },
        )
    assert response.status_code == 201, response.text
    referral_id: str = response.json()["referral_id"]

    async def escalated() -> bool:
        rows = await system.fetch(
            "capacity",
            "SELECT 1 FROM alert WHERE type = 'nl.schakel.capacity.CaseEscalated' AND envelope->'data'->>'referral_id' = $1",
            referral_id,
        )
        return bool(rows)

    await eventually(escalated, timeout=SETTLE_SECONDS, interval=0.2, what="the unplaceable youth escalated")
    return referral_id


def _key(keys_file: Path, role: str) -> dict[str, str]:
    line = next(ln for ln in keys_file.read_text().splitlines() if ln.startswith(f"{role} "))
    return {"Authorization": f"Bearer {line.split()[2]}"}


# --- the test ------------------------------------------------------------------------------------


async def test_two_replicas_of_every_service_keep_every_promise_when_one_of_each_is_killed_halfway(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation, tmp_path: Path
) -> None:
    receiver = Receiver()
    async with two_of_everything(env, infra, isolation) as system, serving(receiver.app) as receiver_url:
        sf = {"Authorization": f"Bearer {await asyncio.to_thread(create_key, 'schakelfunctionaris', 'sf.e2e', env)}"}
        async with httpx.AsyncClient(timeout=30) as http:
            registered = await http.post(
                f"{system.url('capacity')}/v1/webhooks", headers=sf, json={"url": f"{receiver_url}/hook"}
            )
        assert registered.status_code == 201, registered.text
        hook = registered.json()
        unplaceable = await _refer_a_youth_nobody_can_place(system, env)

        run = await play_a_month_killing_one_of_each_halfway(system, receiver, hook, env, tmp_path)
        run.ledger.setdefault("referral", []).append(unplaceable)
        # The run met both halves of the month: calls were answered after the kill too.
        assert run.counts.get("referral", 0) >= 50, run.counts
        refused = {what for what in run.counts if what.endswith("refused") and what != "declaration line refused"}
        assert not refused, run.counts

        await _every_answer_counted_once(system, run)
        escalations = await _each_timer_fired_once(system)
        webhook = await _every_alert_delivered_once_in_order(system, receiver, hook)
        if run.killed["capacity"].endswith("posting an alert"):
            # The post the kill cut off came again, from the replica that took the webhook over.
            assert webhook["delivered_again"] == 1, webhook
        await _nothing_dead_lettered_and_every_outbox_drained(system)
        operator = _key(tmp_path / "keys.txt", "operator")
        async with httpx.AsyncClient(timeout=30) as http:
            totals = (await http.get(f"{system.url('monitoring')}/v1/overview", headers=operator)).json()["totals"]
        [row] = await system.fetch("monitoring", "SELECT count(*) AS n FROM referral_view")
        assert totals["referrals_in"] == row["n"], totals
        REPORT.write_text(
            json.dumps(
                {
                    "killed": run.killed,
                    "answered": {kind: len(ids) for kind, ids in sorted(run.ledger.items())},
                    "not_answered": {what: n for what, n in run.counts.items() if what.endswith("failed")},
                    "referrals_on_dashboard": totals["referrals_in"],
                    "escalations": escalations,
                    **webhook,
                },
                indent=2,
            )
            + "\n"
        )


# --- what must hold ------------------------------------------------------------------------------


async def _every_answer_counted_once(system: System, run: Run) -> None:
    """Every id answered 2xx is in monitoring's read models once; counters equal capacity's own."""
    referrals = run.ids("referral")

    async def monitoring_has_every_referral() -> set[str] | None:
        rows = await system.fetch("monitoring", "SELECT referral_id::text AS id FROM referral_view")
        seen = {r["id"] for r in rows}
        return seen if referrals <= seen else None

    seen = await eventually(
        monitoring_has_every_referral, timeout=SETTLE_SECONDS, interval=0.5, what="every referral in monitoring"
    )
    # A referral whose answer the kill cut off may or may not have been stored; nothing else may be there.
    assert len(seen - referrals) <= run.counts.get("referral failed", 0)

    async def monitoring_has_everything_else() -> bool:
        return not await _missing(system, run)

    if not await _settles(monitoring_has_everything_else):
        raise AssertionError(f"monitoring misses what the simulator was answered for: {await _missing(system, run)}")

    # Counters: one more for each event applied, so a duplicate (or a lost one) shows. Capacity's own
    # proposals are the truth they must equal, read at the same moment.
    async def counters_match() -> dict[str, tuple[int, int]] | None:
        source = await _counters(system, "capacity", PROPOSALS_IN_CAPACITY)
        projected = await _counters(system, "monitoring", PROPOSALS_IN_MONITORING)
        wrong = {p: (projected.get(p), n) for p, n in source.items() if projected.get(p) != n}
        return None if wrong else projected

    projected = await eventually(counters_match, timeout=SETTLE_SECONDS, what="placement counters equal capacity's")
    declined = Counter(run.ledger.get("decline", []))
    assert all(projected[p][1] >= n for p, n in declined.items())


PROPOSALS_IN_CAPACITY = """SELECT placement_id::text AS id, count(*) AS proposals,
                                  count(*) FILTER (WHERE outcome IN ('declined', 'timeout')) AS declines
                           FROM proposal GROUP BY placement_id"""
PROPOSALS_IN_MONITORING = "SELECT placement_id::text AS id, proposals, declines FROM placement_view"


async def _counters(system: System, service: str, sql: str) -> dict[str, tuple[int, int]]:
    return {r["id"]: (r["proposals"], r["declines"]) for r in await system.fetch(service, sql)}


# What each kind of answer leaves in monitoring's read models: the ids it has been applied to.
APPLIED = {
    "withdrawal": "SELECT referral_id::text AS id FROM referral_view WHERE withdrawn_at IS NOT NULL",
    "care start": "SELECT allocation_id::text AS id FROM care_view WHERE start_date IS NOT NULL",
    "care end": "SELECT allocation_id::text AS id FROM care_view WHERE end_date IS NOT NULL",
    "accept": "SELECT placement_id::text AS id FROM placement_view WHERE confirmed_at IS NOT NULL",
}


async def _missing(system: System, run: Run) -> dict[str, set[str]]:
    missing = {
        kind: run.ids(kind) - {r["id"] for r in await system.fetch("monitoring", sql)} for kind, sql in APPLIED.items()
    }
    # A declaration counts once it has every line the contracting office assessed.
    assessed = await system.fetch(
        "contracting", "SELECT id::text, jsonb_array_length(result->'lines') AS n FROM declaration"
    )
    projected = await system.fetch(
        "monitoring", "SELECT declaration_id::text AS id, count(*) AS n FROM declaration_line_view GROUP BY 1"
    )
    complete = {(r["id"], r["n"]) for r in assessed} & {(r["id"], r["n"]) for r in projected}
    missing["declaration"] = run.ids("declaration") - {declaration for declaration, _ in complete}
    return {kind: gone for kind, gone in missing.items() if gone}


async def _settles(probe) -> bool:  # type: ignore[no-untyped-def]
    try:
        await eventually(probe, timeout=SETTLE_SECONDS, interval=0.5, what="monitoring to catch up")
    except AssertionError:
        return False
    return True


async def _each_timer_fired_once(system: System) -> int:
    """Both capacity replicas ran the timers every second; each escalation was raised once, and
    monitoring recorded it once."""
    raised = await system.fetch(
        "capacity",
        """SELECT envelope->'data'->>'placement_id' AS placement, envelope->'data'->>'level' AS level, count(*) AS n
           FROM alert WHERE type = 'nl.schakel.capacity.CaseEscalated' GROUP BY 1, 2""",
    )
    assert raised, "not even the youth nobody could place escalated: the timers did not run"
    assert all(r["n"] == 1 for r in raised), [dict(r) for r in raised if r["n"] > 1]

    async def monitoring_has_them() -> list[asyncpg.Record] | None:
        rows = await system.fetch(
            "monitoring",
            "SELECT placement_id::text AS placement, level, count(*) AS n FROM escalation_view GROUP BY 1, 2",
        )
        # Timers go on after the run (youths still waiting): a later escalation may arrive before an
        # earlier one of another partition, so wait for these very ones, not for as many.
        return rows if wanted <= {(r["placement"], r["level"]) for r in rows} else None

    wanted = {(r["placement"], r["level"]) for r in raised}
    projected = await eventually(monitoring_has_them, timeout=SETTLE_SECONDS, what="every escalation in monitoring")
    assert all(r["n"] == 1 for r in projected), [dict(r) for r in projected if r["n"] > 1]
    return len(raised)


async def _every_alert_delivered_once_in_order(system: System, receiver: Receiver, hook: dict) -> dict[str, int]:
    """The receiver got each of its audience's alerts in ``alert.seq`` order. Standard Webhooks is
    at-least-once: the post the kill cut off comes again from the other replica, so at most one
    delivery repeats, right after itself (a receiver deduplicates on webhook-id); none is skipped
    or reordered, and every one verifies with the webhook's secret."""

    async def settled_cursor() -> int | None:
        [row] = await system.fetch(
            "capacity",
            "SELECT delivered_seq, (SELECT max(seq) FROM alert) AS last FROM webhook WHERE id = $1::uuid",
            hook["id"],
        )
        return row["delivered_seq"] if row["delivered_seq"] == row["last"] else None

    settled = await eventually(
        settled_cursor, timeout=SETTLE_SECONDS, interval=0.5, what="the webhook's cursor at the last alert"
    )
    # Timers may raise more meanwhile: everything up to the cursor must be there, and nothing else but what follows.
    alerts = await system.fetch("capacity", "SELECT seq, id::text AS id, type, envelope FROM alert ORDER BY seq")
    heard = [
        (a["seq"], a["id"])
        for a in alerts
        if Role.SCHAKELFUNCTIONARIS in audience(a["type"], json.loads(a["envelope"]).get("data") or {})
    ]
    until_cursor = [alert_id for seq, alert_id in heard if seq <= settled]
    assert until_cursor, "no alert for the schakelfunctionaris: the run raised no shortage"
    received = [d.webhook_id for d in receiver.deliveries]
    once = [w for i, w in enumerate(received) if i == 0 or received[i - 1] != w]
    assert once[: len(until_cursor)] == until_cursor, {"expected": len(until_cursor), "received": len(received)}
    assert once == [alert_id for _, alert_id in heard][: len(once)]
    assert len(received) - len(once) <= 1, received
    for delivery in receiver.deliveries:
        assert Webhook(hook["secret"]).verify(delivery.body, delivery.headers)["id"] == delivery.webhook_id
    return {"alerts_delivered": len(once), "delivered_again": len(received) - len(once)}


async def _nothing_dead_lettered_and_every_outbox_drained(system: System) -> None:
    async def unsent() -> dict[str, int]:
        counts = {}
        for name in SERVICES:
            [row] = await system.fetch(name, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            counts[name] = row["n"]
        return counts

    async def drained() -> bool:
        return not any((await unsent()).values())

    await eventually(drained, timeout=SETTLE_SECONDS, interval=0.5, what="every outbox drained")
    settings = OpsSettings(kafka_bootstrap_servers=system.infra.kafka, topic_namespace=system.isolation.namespace)
    assert await read_dead_letters(settings, settings.dead_letter_topics()) == []

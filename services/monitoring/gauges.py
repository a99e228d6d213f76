"""Monitoring's Prometheus domain metrics, refreshed from the read models after each change.

Totals are read back from the read models rather than counted in memory, so a restart or a
rebuild never makes a counter jump. Refreshes coalesce: a burst of events (a replay) costs a
few refreshes, not one per event.

Counts of youths (referrals, starts and ends of care, placements, youths waiting, escalations,
declaration lines, waiting times) follow the dashboard's "<5" rule (``domain.published``).
Prometheus has no "<5", so a series whose count is 1–4 is left out — absent, not 0, which
would claim nobody — and ``schakel_suppressed_series{metric}`` says how many were left out. A
waiting-time histogram appears once its category has 5 youths; inside it a bucket of 1–4 reads
0. Places, shortages and report ages are not about youths and stay exact, a pool's free places
per member region (``schakel_pool_places_free``) included: they count beds, not who lies in them.
Alert rules on youth counts therefore compare with a threshold of 5 or more and never rely on ``absent()`` or ``== 0``.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

import asyncpg
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from contracts.verblijf import Setting
from services.monitoring import domain
from services.monitoring.queries import ReadModels
from services.runtime import db
from services.runtime.clock import Clock
from services.runtime.periodic import cancel_task

WAITING_BUCKETS_DAYS = (1, 7, 14, 28, 42, 56, 91, 182)
DAY_SECONDS = 86_400  # Prometheus measures time in seconds; the read models count whole days

log = logging.getLogger(__name__)

# The figures behind the youth counters and the exact gauges; each row has the labels and ``n``.
METRIC_QUERIES = {
    "referrals": "SELECT product_category, referrer, count(*) AS n FROM referral_view GROUP BY 1, 2",
    "care_started": "SELECT product_category, count(*) AS n FROM care_view WHERE start_date IS NOT NULL GROUP BY 1",
    "care_ended": """SELECT product_category, end_reason AS reason, count(*) AS n FROM care_view
                     WHERE end_reason IS NOT NULL GROUP BY 1, 2""",
    "placements": """SELECT confirmed_setting AS setting, count(*) AS n FROM placement_view
                     WHERE confirmed_at IS NOT NULL GROUP BY 1""",
    "waiting": """SELECT urgency, count(*) AS n FROM placement_view
                  WHERE confirmed_at IS NULL AND urgency IS NOT NULL GROUP BY 1""",
    "occupied": "SELECT setting, sum(occupied) AS n FROM provider_capacity GROUP BY 1",
    "shortages": "SELECT setting, count(*) AS n FROM shortage_view GROUP BY 1",
    "escalations": "SELECT level, count(*) AS n FROM escalation_view GROUP BY 1",
    "declarations": """SELECT CASE WHEN approved THEN 'goedgekeurd' ELSE 'afgewezen' END AS outcome, count(*) AS n
                       FROM declaration_line_view GROUP BY 1""",
    "waiting_days": """SELECT r.product_category,
                              greatest(min(c.start_date) - (r.received_at AT TIME ZONE 'Europe/Amsterdam')::date, 0)
                                  AS days
                       FROM referral_view r JOIN care_view c ON c.referral_id = r.referral_id
                       WHERE c.start_date IS NOT NULL GROUP BY r.referral_id""",
    "report_age": "SELECT setting, min(reported_at) AS oldest FROM provider_capacity GROUP BY 1",
    "pool_free": "SELECT pool, region, setting, sum(free) AS n FROM pool_capacity_view GROUP BY 1, 2, 3",
    "doorbraak_open": "SELECT count(*) AS n FROM doorbraak_case_view WHERE closed_at IS NULL",
    # Open decisions of open cases; whether one is overdue is judged at scrape time, on the clock.
    "doorbraak_decisions": """SELECT d.due_date, d.overdue_at FROM doorbraak_decision_view d
                              JOIN doorbraak_case_view c ON c.case_id = d.case_id
                              WHERE c.closed_at IS NULL AND d.carried_out_at IS NULL AND d.withdrawn_at IS NULL""",
}
ACTIVE_SHORTAGES = "SELECT DISTINCT setting FROM shortage_view WHERE resolved_at IS NULL"
# Under a stream of events the counts are refreshed at most this often. Prometheus scrapes every
# 15 s; refreshing after every commit ran their dozen aggregates back to back and took the CPU the
# consumers and a shortage's own refresh needed (issue 13).
COUNTS_REFRESH_SECONDS = 1.0


class DomainGauges:
    def __init__(self, registry: CollectorRegistry, clock: Clock) -> None:
        self.places_free = Gauge(
            "schakel_places_free",
            "Free verblijf places across the region, per setting.",
            ["setting"],
            registry=registry,
        )
        self.shortage_active = Gauge(
            "schakel_shortage_active", "1 while a setting is in shortage, else 0.", ["setting"], registry=registry
        )
        for setting in Setting:
            # Present from the start, so "no shortage" reads 0 rather than absent.
            self.shortage_active.labels(setting=setting.value).set(0)
        self.snapshot = Snapshot(clock)
        registry.register(self.snapshot)
        # Two refreshes, each coalescing its own requests: the places and shortages take two small
        # queries and a shortage waits for them; the youth counts take a dozen aggregates over read
        # models that grow with every referral, and need not follow each commit.
        self._places = CoalescedRefresh("monitoring-gauges-places", self._refresh_places)
        self._counts = CoalescedRefresh("monitoring-gauges-counts", self._refresh_counts, pause=COUNTS_REFRESH_SECONDS)

    async def refresh(self, pool: asyncpg.Pool) -> None:
        await self._refresh_places(pool)
        await self._refresh_counts(pool)

    async def _refresh_places(self, pool: asyncpg.Pool) -> None:
        # No snapshot here, unlike the counts: BEGIN and COMMIT would be two more round trips on a
        # shortage's way to /metrics. Both reads end before any gauge is set, so a scrape never sees
        # new places beside an old shortage state; a commit between the two reads shows at the next
        # refresh, which that commit asks for.
        async with pool.acquire() as conn:
            # Free places as the dashboard's tiles count them: none held by a proposal or while closed.
            capacities = await ReadModels(conn).setting_capacity()
            short = {r["setting"] for r in await conn.fetch(ACTIVE_SHORTAGES)}
        for capacity in capacities:
            self.places_free.labels(setting=capacity.setting).set(capacity.free)
        for setting in Setting:
            self.shortage_active.labels(setting=setting.value).set(1 if setting.value in short else 0)

    async def _refresh_counts(self, pool: asyncpg.Pool) -> None:
        # One snapshot for the dozen counts, so they agree with each other (no start of care
        # counted before its referral).
        async with pool.acquire() as conn, db.snapshot(conn):
            self.snapshot.rows = {name: await conn.fetch(sql) for name, sql in METRIC_QUERIES.items()}

    def request_refresh(self, pool: asyncpg.Pool) -> None:
        """Ask for a refresh soon; requests made while one runs are served by one more run."""
        self._places.request(pool)
        self._counts.request(pool)

    async def stop(self) -> None:
        await self._places.stop()
        await self._counts.stop()


class CoalescedRefresh:
    """Runs ``refresh`` on request, in a task of its own; requests that arrive while it runs, or
    within ``pause`` seconds after, are served by one more run. A first request runs at once; a
    burst of changes (a replay) costs a few runs, not one per change."""

    def __init__(self, name: str, refresh: Callable[[asyncpg.Pool], Awaitable[None]], pause: float = 0.0) -> None:
        self._name = name
        self._refresh = refresh
        self._pause = pause
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def request(self, pool: asyncpg.Pool) -> None:
        self._dirty.set()
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(pool), name=self._name)

    async def _drain(self, pool: asyncpg.Pool) -> None:
        while self._dirty.is_set():
            self._dirty.clear()
            try:
                await self._refresh(pool)
            except Exception as exc:  # the next change asks again; the gauges keep their last values
                log.warning("%s failed (%s); trying again at the next change", self._name, type(exc).__name__)
                return
            if self._pause:
                await asyncio.sleep(self._pause)

    async def settled(self) -> None:
        """Returns when no refresh runs or is asked for; ``_drain`` catches its own failures."""
        if self._task is not None:
            await self._task

    async def stop(self) -> None:
        await cancel_task(self._task)


class Snapshot(Collector):
    """Exposes the last metric snapshot; report ages are computed at scrape time, on ``clock``."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.rows: dict[str, list[asyncpg.Record]] = {}

    def collect(self) -> Iterator[Metric]:
        rows = self.rows
        left_out: Counter[str] = Counter()
        yield from _youth_metrics(rows, left_out)
        yield _gauge(
            "schakel_places_occupied", "Occupied verblijf places, by setting.", ["setting"], rows.get("occupied", [])
        )
        yield _gauge(
            "schakel_pool_places_free",
            "Free places a pool's member region last told it, per pooled setting (the region's own included).",
            ["pool", "region", "setting"],
            rows.get("pool_free", []),
        )
        yield _counter("schakel_shortages", "Shortages detected, by setting.", ["setting"], rows.get("shortages", []))
        now = self.clock.now()
        age = GaugeMetricFamily(
            "schakel_capacity_report_age_seconds", "Age of the stalest provider report per setting.", labels=["setting"]
        )
        for r in rows.get("report_age", []):
            age.add_metric([r["setting"]], (now - r["oldest"]).total_seconds())
        yield age
        yield from _doorbraak_metrics(rows, now, left_out)
        suppressed = GaugeMetricFamily(
            "schakel_suppressed_series",
            "Series of a count of youths left out because it is 1-4 (the <5 rule).",
            labels=["metric"],
        )
        for name, n in sorted(left_out.items()):
            suppressed.add_metric([name], n)
        yield suppressed


def _youth_metrics(rows: dict[str, list[asyncpg.Record]], left_out: Counter[str]) -> Iterator[Metric]:
    yield _counter(
        "schakel_referrals",
        "Referrals received, by product category and referrer type (COD327, or veilig_thuis).",
        ["product_category", "referrer"],
        rows.get("referrals", []),
        left_out,
    )
    yield _counter(
        "schakel_care_started",
        "Starts of care, by product category.",
        ["product_category"],
        rows.get("care_started", []),
        left_out,
    )
    yield _counter(
        "schakel_care_ended",
        "Ends of care, by product category and reden beëindiging (JZ588).",
        ["product_category", "reason"],
        rows.get("care_ended", []),
        left_out,
    )
    yield _counter(
        "schakel_placements",
        "Confirmed verblijf placements, by setting.",
        ["setting"],
        rows.get("placements", []),
        left_out,
    )
    yield _gauge(
        "schakel_youths_waiting_for_placement",
        "Youths with an open placement request, by urgency.",
        ["urgency"],
        rows.get("waiting", []),
        left_out,
    )
    yield _counter(
        "schakel_escalations", "Cases escalated, by level.", ["level"], rows.get("escalations", []), left_out
    )
    yield _counter(
        "schakel_declaration_lines",
        "Assessed declaration lines, by outcome.",
        ["outcome"],
        rows.get("declarations", []),
        left_out,
    )
    yield _waiting_histogram(rows.get("waiting_days", []), left_out)


def _doorbraak_metrics(
    rows: dict[str, list[asyncpg.Record]], now: datetime, left_out: Counter[str]
) -> Iterator[Metric]:
    """Open cases and overdue decisions are counts of youths ("<5"); how long the longest-overdue
    decision is past due is not, so it stays exact (0: none overdue) and the alert rule reads it."""
    yield _gauge(
        "schakel_doorbraak_cases_open",
        "Doorbraak cases the expert team holds (taken up, not closed).",
        [],
        rows.get("doorbraak_open", []),
        left_out,
    )
    since = [domain.overdue_since(r["due_date"], r["overdue_at"]) for r in rows.get("doorbraak_decisions", [])]
    overdue = [moment for moment in since if moment is not None and moment <= now]
    name = "schakel_doorbraak_decisions_overdue"
    overdue_count = GaugeMetricFamily(name, "Open doorbraak decisions past their due date (or announced overdue).")
    if (shown := domain.metric_count(len(overdue))) is None:
        left_out[name] += 1
    else:
        overdue_count.add_metric([], shown)
    yield overdue_count
    oldest = GaugeMetricFamily(
        "schakel_doorbraak_oldest_overdue_seconds",
        "How long the longest-overdue open doorbraak decision is past due; 0 while none is overdue.",
    )
    oldest.add_metric([], max(((now - moment).total_seconds() for moment in overdue), default=0.0))
    yield oldest


def _counter(
    name: str, doc: str, labels: list[str], rows: list[asyncpg.Record], youths: Counter[str] | None = None
) -> Metric:
    """A counter family; with ``youths`` (where left-out series are counted) the <5 rule applies."""
    return _filled(CounterMetricFamily(name, doc, labels=labels), name, labels, rows, youths)


def _gauge(
    name: str, doc: str, labels: list[str], rows: list[asyncpg.Record], youths: Counter[str] | None = None
) -> Metric:
    return _filled(GaugeMetricFamily(name, doc, labels=labels), name, labels, rows, youths)


def _filled(
    family: CounterMetricFamily | GaugeMetricFamily,
    name: str,
    labels: list[str],
    rows: list[asyncpg.Record],
    youths: Counter[str] | None,
) -> Metric:
    for r in rows:
        if youths is None:
            n = r["n"]
        elif (n := domain.metric_count(r["n"])) is None:
            youths[name] += 1
            continue
        family.add_metric([str(r[label]) for label in labels], n)
    return family


def _waiting_histogram(rows: list[asyncpg.Record], left_out: Counter[str]) -> Metric:
    name = "schakel_waiting_time_seconds"
    family = HistogramMetricFamily(
        name, "Time from referral to start of care, in whole days, by product category.", labels=["product_category"]
    )
    by_category: dict[str, list[int]] = {}
    for r in rows:
        by_category.setdefault(r["product_category"], []).append(r["days"])
    bounds = [str(b * DAY_SECONDS) for b in WAITING_BUCKETS_DAYS] + ["+Inf"]
    for category, days in sorted(by_category.items()):
        counts = domain.metric_buckets([sum(d <= b for d in days) for b in WAITING_BUCKETS_DAYS] + [len(days)])
        if counts is None:
            left_out[name] += 1
            continue
        family.add_metric([category], list(zip(bounds, counts, strict=True)), sum_value=sum(days) * DAY_SECONDS)
    return family

"""The fault suite's own Schakel: a private Kafka and PostgreSQL it may stop, restart and break,
the four services as processes it may kill, and a steady load of real referrals."""

from __future__ import annotations

import asyncio
import glob
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from services.runtime.deadletters import OpsSettings, read_dead_letters
from services.sim.region import synthetic_bsn
from tests.support.infra import REPO, Infrastructure, Isolation, ThrowawayKafka
from tests.support.processes import ARTIFACTS, _wait_ready, create_key
from tests.support.server import free_port

SERVICES = ("intake", "contracting", "capacity", "monitoring")
GP_AGB = "01234567"
MUNICIPALITIES = ("0402", "1942", "0406", "1696", "0417", "0376")


class ThrowawayPostgres:
    """A PostgreSQL cluster of the test's own (Debian's binaries), so restarting it for real
    disturbs nothing else on the machine."""

    def __init__(self) -> None:
        bindirs = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda d: int(d.split("/")[-2]))
        if not bindirs:
            raise AssertionError("PostgreSQL server binaries missing: run deploy/local/postgres.sh")
        self._bin = Path(bindirs[-1])
        self.port = free_port()
        # PostgreSQL refuses to run as root; its files belong to the postgres user.
        self._dir = Path(tempfile.mkdtemp(prefix="schakel-faults-pg-"))
        shutil.chown(self._dir, "postgres", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *args],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd="/tmp",
        )

    def init(self) -> None:
        self._as_postgres(
            str(self._bin / "initdb"), "-D", str(self._dir / "data"), "-A", "trust", "-U", "postgres", "--no-sync"
        )
        self.start()

    def start(self) -> None:
        options = f"-p {self.port} -k {self._dir} -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off"
        self._as_postgres(
            str(self._bin / "pg_ctl"),
            "-D",
            str(self._dir / "data"),
            "-l",
            str(self._dir / "log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def stop(self) -> None:
        self._as_postgres(str(self._bin / "pg_ctl"), "-D", str(self._dir / "data"), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)


class ServiceProcess:
    """One service as a real process that a test may kill with SIGKILL and start again."""

    def __init__(self, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._env = {
            **os.environ,
            **env,
            "SCHAKEL_DB_SCHEMA": f"{env['SCHAKEL_DB_SCHEMA']}_{name}",
            "SCHAKEL_PORT": str(self.port),
        }
        self._process: subprocess.Popen[bytes] | None = None
        self.log_path = ARTIFACTS / f"faults-{name}.log"
        self.starts = 0

    def start(self) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.name}"],
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self._env,
            )
        self.starts += 1
        _wait_ready(self._process, self.url, self.log_path, timeout=120)

    def kill9(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait()

    def stop(self) -> None:
        if self._process and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


@dataclass
class LoadReport:
    """What a steady load was answered: the ids accepted (2xx), and everything else counted."""

    accepted: list[str] = field(default_factory=list)
    verblijf: set[str] = field(default_factory=set)
    # A request whose answer never came may or may not have been stored: never counted as lost.
    unknown: int = 0
    refused: Counter[int] = field(default_factory=Counter)

    def summary(self) -> dict[str, object]:
        return {"accepted": len(self.accepted), "unanswered": self.unknown, "refused": dict(self.refused)}


class ReferralLoad:
    """Real referrals at a steady rate, each with a fresh valid BSN, from several referrers."""

    def __init__(self, intake: ServiceProcess, headers: list[dict[str, str]], seed: int) -> None:
        self._intake = intake
        self._headers = headers
        self._rng = random.Random(seed)

    def _body(self, verblijf: bool) -> dict[str, object]:
        birth = f"{self._rng.randrange(2009, 2020)}-0{self._rng.randrange(1, 10)}-1{self._rng.randrange(0, 10)}"
        body: dict[str, object] = {
            "client": {
                "bsn": synthetic_bsn(self._rng),
                "birth_date": birth,
                "municipality_code": self._rng.choice(MUNICIPALITIES),
            },
            "referrer": {"type": "02", "agb": GP_AGB},
            "urgency": "regulier",
            "ambulant_tried": True,
            "product_category": "45",
        }
        if verblijf:
            body.update(product_category="43", setting="gezinshuis")
        return body

    async def run(self, seconds: float, rate: float, report: LoadReport) -> None:
        interval = 1 / rate
        deadline = time.monotonic() + seconds
        async with httpx.AsyncClient(timeout=10) as http:
            pending: set[asyncio.Task[None]] = set()
            n = 0
            while time.monotonic() < deadline:
                task = asyncio.create_task(self._one(http, n, report))
                pending.add(task)
                task.add_done_callback(pending.discard)
                n += 1
                await asyncio.sleep(interval)  # the load's pace, not a synchronisation
            await asyncio.gather(*pending)

    async def _one(self, http: httpx.AsyncClient, n: int, report: LoadReport) -> None:
        verblijf = n % 5 == 0
        try:
            response = await http.post(
                f"{self._intake.url}/v1/referrals",
                json=self._body(verblijf),
                headers=self._headers[n % len(self._headers)],
            )
        except httpx.ConnectError:
            report.refused[0] += 1  # nobody listening: certainly not stored
            return
        except httpx.TransportError:
            report.unknown += 1
            return
        if response.status_code == 201:
            referral_id = response.json()["referral_id"]
            report.accepted.append(referral_id)
            if verblijf:
                report.verblijf.add(referral_id)
        else:
            report.refused[response.status_code] += 1


class System:
    """The four services on the private Kafka and PostgreSQL, and what the suite checks downstream."""

    def __init__(self, kafka: ThrowawayKafka, postgres: ThrowawayPostgres, isolation: Isolation) -> None:
        self.kafka = kafka
        self.postgres = postgres
        self.isolation = isolation
        self.infra = Infrastructure(kafka.bootstrap, postgres.url)
        self.env = {
            **isolation.env(self.infra),
            # Generous limits: this suite measures faults, not the flood protection.
            "SCHAKEL_VERBLIJF_REFERRALS_PER_DAY": "100000",
            "SCHAKEL_KAFKA_PARTITIONS": "3",
        }
        self.services = {name: ServiceProcess(name, self.env) for name in SERVICES}
        self.referrers = [
            {"Authorization": f"Bearer {create_key('referrer', f'02:{GP_AGB}', self.env)}"} for _ in range(4)
        ]
        self.reports: dict[str, dict[str, object]] = {}

    def start(self) -> None:
        for service in self.services.values():
            service.start()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def load(self, seed: int) -> ReferralLoad:
        return ReferralLoad(self.services["intake"], self.referrers, seed)

    async def _fetch(self, service: str, sql: str, *args: object) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(
            self.postgres.url, server_settings={"search_path": f"{self.isolation.schema}_{service}"}
        )
        try:
            return await conn.fetch(sql, *args)
        finally:
            await conn.close()

    async def monitoring_counts(self, ids: list[str]) -> dict[str, int]:
        rows = await self._fetch(
            "monitoring",
            "SELECT referral_id::text AS id, count(*) AS n FROM referral_view "
            "WHERE referral_id = ANY($1::uuid[]) GROUP BY referral_id",
            ids,
        )
        return {r["id"]: r["n"] for r in rows}

    async def capacity_counts(self, ids: list[str]) -> dict[str, int]:
        rows = await self._fetch(
            "capacity",
            "SELECT referral_id::text AS id, count(*) AS n FROM placement "
            "WHERE referral_id = ANY($1::uuid[]) GROUP BY referral_id",
            ids,
        )
        return {r["id"]: r["n"] for r in rows}

    async def unsent(self) -> dict[str, int]:
        counts = {}
        for name in SERVICES:
            rows = await self._fetch(name, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
            counts[name] = rows[0]["n"]
        return counts

    async def dead_letters(self) -> int:
        settings = OpsSettings(kafka_bootstrap_servers=self.kafka.bootstrap, topic_namespace=self.isolation.namespace)
        return len(await read_dead_letters(settings, settings.dead_letter_topics()))

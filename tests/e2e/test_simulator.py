"""The simulator against the real system: four services as processes, the simulator as a process of
its own (``python -m services.sim``) that talks only HTTP. After a short accelerated run every read
model of the dashboard holds data, a shortage was detected and resolved, and a youth nobody took went
through the expert team (a maatwerk contract) into care."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import httpx

from tests.support.infra import REPO
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, service_process
from tests.support.server import free_port

SERVICES = ("intake", "contracting", "capacity", "monitoring")
DAYS = 30  # the month ending today: the first provoked shortage (day 2, at most 16 days) ends in it


def _run_simulator(urls: dict[str, str], env: dict[str, str], keys_file: Path) -> str:
    ARTIFACTS.mkdir(exist_ok=True)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "services.sim",
            "--seed",
            "7",
            "--days",
            str(DAYS),
            "--speed",
            "50",
            "--scale",
            "0.5",
            "--keys-file",
            str(keys_file),
            *(f"--{name}={url}" for name, url in urls.items()),
        ],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=150,
        stdin=subprocess.DEVNULL,
    )
    (ARTIFACTS / "e2e-simulator.log").write_text(result.stdout + result.stderr)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _key(keys_file: Path, role: str) -> dict[str, str]:
    line = next(ln for ln in keys_file.read_text().splitlines() if ln.startswith(f"{role} "))
    return {"Authorization": f"Bearer {line.split()[2]}"}


async def test_a_simulated_month_fills_every_dashboard_view_and_a_shortage_comes_and_goes(
    env: dict[str, str], tmp_path: Path
) -> None:
    with ExitStack() as stack:
        ports = {name: free_port() for name in SERVICES}
        service_env = {**env, "SCHAKEL_CAPACITY_URL": f"http://127.0.0.1:{ports['capacity']}"}
        urls = {
            name: stack.enter_context(service_process(name, ports[name], service_env, f"e2e-sim-{name}"))
            for name in SERVICES
        }
        keys_file = tmp_path / "keys.txt"
        summary = _run_simulator(urls, env, keys_file)
        counts = dict(item.rsplit(": ", 1) for item in summary.strip().split(", "))
        # A declaration line the check refuses is one of the mistakes the simulator makes on purpose;
        # any other refusal is a call the system should have accepted (e.g. a date it finds in the future).
        refused = {
            what for what in counts if what.endswith(("refused", "failed")) and what != "declaration line refused"
        }
        assert "referral" in counts and not refused, summary
        # Day 2's doorbraak youth: escalated, taken up, decided, contracted (services/sim/expertteam.py).
        assert counts.get("doorbraak case taken up") == "1" and counts.get("maatwerk contract") == "1", summary
        operator, schakelfunctionaris = _key(keys_file, "operator"), _key(keys_file, "schakelfunctionaris")

        async with httpx.AsyncClient(timeout=30) as http:

            async def monitoring(path: str) -> httpx.Response:
                answer = await http.get(f"{urls['monitoring']}{path}", headers=operator)
                answer.raise_for_status()
                return answer

            async def overview_counts_care() -> dict | None:
                totals = (await monitoring("/v1/overview")).json()["totals"]
                care, referrals = totals["care_started"], totals["referrals_in"]  # "<5" while under five
                counted = isinstance(care, int) and care >= 5 and isinstance(referrals, int) and referrals >= 50
                return totals if counted else None

            await eventually(
                overview_counts_care, timeout=60, what="monitoring to count 50 referrals and 5 care starts"
            )

            flows = (await monitoring("/v1/flows")).json()
            assert {row["municipality"] for row in flows} >= {"0402", "1942", "0406"}
            waits = (await monitoring("/v1/waiting-times")).json()
            assert waits and all(row["youths"] for row in waits)
            # Per municipality most cells are under five youths and suppressed; the region's trend is not.
            trend = (await monitoring("/v1/overview")).json()["trend"]
            assert any(isinstance((m["waiting"] or {}).get("median_days"), float) for m in trend), trend

            rows = list(csv.reader(io.StringIO((await monitoring("/v1/export.csv")).text), delimiter=";"))
            assert rows[0][0] == "maand" and len(rows) > 5

            async def tiles_of_every_setting() -> list[dict] | None:
                # Capacity has its own consumer: its reports may still be on their way.
                tiles = (await http.get(f"{urls['monitoring']}/v1/capacity")).json()["settings"]
                shown = {t["setting"] for t in tiles} >= {"crisisplek", "gezinshuis", "residentieel", "pleegzorg"}
                return tiles if shown else None

            tiles = await eventually(tiles_of_every_setting, timeout=60, what="a tile for every verblijf setting")
            assert all(t["total"] > 0 for t in tiles)

            alerts = (
                await http.get(f"{urls['capacity']}/v1/alerts", params={"limit": 1000}, headers=schakelfunctionaris)
            ).json()
            detected = {a["event"]["data"]["shortage_id"] for a in alerts if a["type"].endswith("ShortageDetected")}
            resolved = {a["event"]["data"]["shortage_id"] for a in alerts if a["type"].endswith("ShortageResolved")}
            assert detected & resolved, f"no shortage both detected and resolved: {alerts[:5]}"
            assert detected - resolved, "the month should end today with the last provoked shortage still open"
            crisis = [a for a in alerts if a["type"].endswith("ShortageDetected") and a["setting"] == "crisisplek"]
            assert crisis, "the provoked crisis shortage was not detected"

            # The doorbraak youth is in care: capacity closed its case, monitoring counts it ("<5").
            expertteam = _key(keys_file, "expertteam")
            [case] = (await http.get(f"{urls['capacity']}/v1/cases", headers=expertteam)).json()
            case_file = (await http.get(f"{urls['capacity']}/v1/cases/{case['case_id']}", headers=expertteam)).json()
            (ARTIFACTS / "e2e-sim-doorbraak-case.json").write_text(json.dumps(case_file, indent=2))
            assert (case["status"], case["closed_reason"]) == ("closed", "zorg_gestart"), (
                "see e2e-sim-doorbraak-case.json"
            )

            async def doorbraak_counted() -> list | None:
                rows = (await monitoring("/v1/doorbraak/figures")).json()
                in_care = [r for r in rows if r["to_care"]["youths"] == "<5"]
                return rows if in_care and any(r["cases_taken_up"] == "<5" for r in rows) else None

            await eventually(doorbraak_counted, timeout=60, what="monitoring to count the doorbraak case in care")
            assert (await http.get(f"{urls['monitoring']}/v1/doorbraak", headers=expertteam)).json()["open_cases"] == 0

"""The dashboard and the schakelfunctie page in headless Chromium, with capacity and monitoring
running as processes: a shortage appears without a reload, an alert is acknowledged through
monitoring's proxy, the expert team's doorbraak cases show overdue first, and axe-core finds no
WCAG 2.1 AA violation on either page."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, async_playwright, expect

from contracts import topics
from contracts.codes import Urgentie
from contracts.doorbraak import CaseTakenUp, DecisionKind, DecisionMade, DoorbraakTeam, Executor
from contracts.envelope import Envelope, EventData
from contracts.verblijf import Setting
from services.runtime.workdays import dutch_date
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, create_key, service_process
from tests.support.server import free_port

AGB = "23456789"
AXE = REPO / "services/monitoring/node_modules/axe-core/axe.min.js"
CHROMIUM = "/usr/bin/chromium"
WCAG_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


async def _axe_violations(page: Page) -> list[dict]:
    await page.add_script_tag(path=str(AXE))
    result = await page.evaluate("(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_AA)
    return [
        {"id": v["id"], "help": v["help"], "nodes": [n["target"] for n in v["nodes"]]} for v in result["violations"]
    ]


async def _sign_in(page: Page, key: str) -> None:
    await page.get_by_label("API-sleutel", exact=True).fill(key)
    await page.get_by_role("button", name="Aanmelden").click()


def _doorbraak_cases() -> tuple[list[EventData], str]:
    """Two youths at the expert team: one with a maatwerk decision due yesterday, one still waiting
    for a decision; as capacity announces them. Returns the events and the overdue youth's kenmerk."""
    now = datetime.now(UTC)
    events: list[EventData] = []
    kenmerk = ""
    for overdue in (True, False):
        case_id, placement_id, referral_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        ids = {"case_id": case_id, "placement_id": placement_id, "referral_id": referral_id}
        events.append(
            CaseTakenUp(
                **ids,
                client_ref="d" * 64,
                age=16,
                municipality_code="0402",
                settings=[Setting.RESIDENTIEEL],
                urgency=Urgentie.SPOED,
                team=DoorbraakTeam.EXPERTTEAM,
                first_escalated_at=now - timedelta(days=20),
                taken_up_at=now - timedelta(days=18),
            )
        )
        if overdue:
            kenmerk = str(placement_id)[:8]
            events.append(
                DecisionMade(
                    **ids,
                    decision_id=uuid.uuid4(),
                    municipality_code="0402",
                    kind=DecisionKind.MAATWERK,
                    executor=Executor.CONTRACTMANAGEMENT,
                    settings=[Setting.RESIDENTIEEL],
                    working_days=10,
                    due_date=dutch_date(now) - timedelta(days=1),
                    first_escalated_at=now - timedelta(days=20),
                    decided_at=now - timedelta(days=15),
                )
            )
    return events, kenmerk


async def test_a_shortage_appears_live_and_is_acknowledged_and_both_pages_are_accessible(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    assert AXE.exists(), "run deploy/local/browser.sh (npm ci in services/monitoring) first"
    provider = {"Authorization": f"Bearer {create_key('provider', AGB, env)}"}
    admin = {"Authorization": f"Bearer {create_key('admin', 'beheer', env)}"}
    operator_key = create_key("operator", "beleid", env)
    schakel_key = create_key("schakelfunctionaris", "sf.gooi", env)
    capacity_port = free_port()
    ARTIFACTS.mkdir(exist_ok=True)

    with (
        service_process("capacity", capacity_port, env, "e2e-dashboard-capacity") as capacity,
        service_process(
            "monitoring",
            free_port(),
            {**env, "SCHAKEL_CAPACITY_URL": f"http://127.0.0.1:{capacity_port}"},
            "e2e-dashboard-monitoring",
        ) as monitoring,
    ):
        async with httpx.AsyncClient(timeout=30) as http, async_playwright() as playwright:

            async def ready(url: str) -> bool:
                return (await http.get(f"{url}/readyz")).status_code == 200

            await eventually(lambda: ready(capacity), timeout=60, what="capacity ready")
            await eventually(lambda: ready(monitoring), timeout=60, what="monitoring ready")
            (
                await http.put(
                    f"{capacity}/v1/providers/{AGB}",
                    headers=admin,
                    json={"settings": list(Setting), "municipality_code": "0402"},
                )
            ).raise_for_status()
            # Every setting has a tile, so the row of seven is laid out as the region sees it.
            for setting in Setting:
                figures = {"total": 2, "occupied": 1} if setting is Setting.CRISISPLEK else {"total": 9, "occupied": 1}
                (
                    await http.put(f"{capacity}/v1/capacity/{AGB}/{setting}", headers=provider, json=figures)
                ).raise_for_status()

            # Capacity's doorbraak events, as its outbox relay would put them on the topic.
            doorbraak, kenmerk = _doorbraak_cases()
            for event in doorbraak:
                envelope = Envelope.wrap(event, source="capacity", time=datetime.now(UTC))
                await produce(
                    infra.kafka,
                    isolation.topic(topics.CAPACITY_EVENTS),
                    envelope.to_bytes(),
                    key=envelope.subject.encode(),
                )

            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="nl-NL")
            await page.goto(monitoring + "/")
            tile = page.locator('.schakel-tile[data-setting="crisisplek"]')
            await expect(tile).to_have_attribute("data-state", "krap", timeout=20_000)
            await expect(page.locator("#live-status")).to_contain_text("Live", timeout=20_000)
            await expect(page.locator(".schakel-tile")).to_have_count(len(Setting), timeout=20_000)
            # At 1440 px no tile, nor any text in one, runs past the page's or its own right edge.
            overflowing = await page.evaluate(
                """() => [...document.querySelectorAll('.schakel-tile')].filter(tile => {
                     const box = tile.getBoundingClientRect();
                     return box.right > document.documentElement.clientWidth
                       || [...tile.children].some(c => c.scrollWidth > c.clientWidth
                                                       || c.getBoundingClientRect().right > box.right);
                   }).map(tile => tile.dataset.setting)"""
            )
            assert overflowing == []
            assert await page.evaluate("Schakel.count(1, 'jeugdige wacht', 'jeugdigen wachten')") == "1 jeugdige wacht"
            assert await page.evaluate("Schakel.count(2, 'vrije plek', 'vrije plekken')") == "2 vrije plekken"
            await _sign_in(page, operator_key)
            await expect(page.locator("#cijfers")).to_be_visible(timeout=20_000)
            # The pool view: this region's JeugdzorgPlus places as capacity told the pool, as on its own tile.
            own = page.locator('#pool-tegels .schakel-tile[data-own="ja"][data-setting="jeugdzorgplus"]')
            await expect(own).to_contain_text("8 van 9 vrij", timeout=20_000)
            # The expert team's work per month, with two youths shown as "<5".
            await expect(page.locator("#tabel-doorbraak")).to_contain_text("<5", timeout=20_000)
            await page.evaluate("window.__notReloaded = true")

            # The provider takes its last crisis place: capacity detects the shortage.
            (
                await http.put(
                    f"{capacity}/v1/capacity/{AGB}/crisisplek", headers=provider, json={"total": 2, "occupied": 2}
                )
            ).raise_for_status()
            await expect(tile).to_have_attribute("data-state", "tekort", timeout=20_000)
            await expect(tile).to_contain_text("Tekort")
            await expect(page.locator('[data-shortage="crisisplek"]')).to_be_visible()
            await expect(page.locator('[data-shortage="crisisplek"]')).to_contain_text(
                "0 vrije plekken, 0 jeugdigen wachten met spoed"
            )
            assert await page.evaluate("window.__notReloaded === true"), "the page reloaded"
            await page.screenshot(path=str(ARTIFACTS / "dashboard-shortage.png"), full_page=True)
            dashboard_violations = await _axe_violations(page)

            # Another person at another desk: the operator's key stays behind in the dashboard's session.
            await page.evaluate("sessionStorage.clear()")
            await page.goto(monitoring + "/schakelfunctie")
            await _sign_in(page, schakel_key)
            acknowledge = page.get_by_role("button", name="Bevestig tekort Crisisplek")
            await expect(acknowledge).to_be_visible(timeout=20_000)
            # Doorbraak: both cases, the overdue one first, in Dutch with singular and plural right.
            await expect(page.locator("#doorbraak-samenvatting")).to_have_text(
                "Het expertteam heeft 2 open casussen; 1 besluit is te laat.", timeout=20_000
            )
            rows = page.locator("#tabel-doorbraak tbody tr")
            await expect(rows).to_have_count(2)
            await expect(rows.first).to_contain_text(kenmerk)
            await expect(rows.first).to_contain_text("Te laat (1 dag)")
            await expect(rows.first).to_contain_text("Maatwerk")
            await expect(rows.nth(1)).to_contain_text("Wacht op besluit")
            schakel_violations = await _axe_violations(page)
            await acknowledge.click()
            row = page.locator("#tabel-tekorten tr", has_text="Crisisplek")
            await expect(row).to_contain_text("Bevestigd door sf.gooi", timeout=20_000)
            await page.screenshot(path=str(ARTIFACTS / "schakelfunctie-acknowledged.png"), full_page=True)
            await browser.close()

            # The acknowledgement went to capacity with the schakelfunctionaris' own key.
            alerts = (
                await http.get(
                    f"{capacity}/v1/alerts",
                    headers={"Authorization": f"Bearer {schakel_key}"},
                    params={"type": "nl.schakel.capacity.ShortageDetected"},
                )
            ).json()
            assert alerts[0]["acknowledged_by"] == "sf.gooi"

    assert dashboard_violations == [], dashboard_violations
    assert schakel_violations == [], schakel_violations

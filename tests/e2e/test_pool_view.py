"""The pool view in headless Chromium, with monitoring running as a process and the pool's members
telling their places on the pool topic (as their capacity relays would): a tile per member region,
this region first and marked, a shortage badge, live updates without a reload, no overflow at
1440 px, Dutch singular and plural, and no WCAG 2.1 AA violation on either page. A key sees the pool
view where its role may, and keeps what else it may see."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from playwright.async_api import Page, async_playwright, expect

from contracts import topics
from contracts.envelope import Envelope, EventData
from contracts.pool import PoolCapacityReported, PoolShortageDetected, PoolShortageResolved
from contracts.verblijf import Setting
from tests.e2e.test_dashboard import AXE, CHROMIUM, _axe_violations, _sign_in
from tests.support.infra import Infrastructure, Isolation
from tests.support.kafka import produce
from tests.support.polling import eventually
from tests.support.processes import ARTIFACTS, create_key, service_process
from tests.support.server import free_port

POOL = "midden-nederland"
OWN = "gooi-en-vechtstreek"
MEMBERS = (
    "gooi-en-vechtstreek",
    "eemland",
    "lekstroom",
    "utrecht-stad",
    "zuid-oost-utrecht",
    "utrecht-west",
    "flevoland",
)
JZP = Setting.JEUGDZORGPLUS


def _places(region: str, agb: str, free: int, total: int, reserved: int = 0, minutes: int = 0) -> PoolCapacityReported:
    return PoolCapacityReported(
        pool=POOL,
        region=region,
        agb=agb,
        setting=JZP,
        free=free,
        total=total,
        reserved=reserved,
        reported_at=datetime.now(UTC) + timedelta(minutes=minutes),
    )


async def _tell(infra: Infrastructure, topic: str, *events: EventData) -> None:
    for event in events:
        envelope = Envelope.wrap(event, source="capacity", time=datetime.now(UTC))
        await produce(infra.kafka, topic, envelope.to_bytes(), key=envelope.subject.encode())


async def _overflowing(page: Page) -> list[str]:
    """Pool tiles that run past the page's right edge, or whose text runs past their own."""
    return await page.evaluate(
        """() => [...document.querySelectorAll('#pool-tegels .schakel-tile')].filter(tile => {
             const box = tile.getBoundingClientRect();
             return box.right > document.documentElement.clientWidth
               || [...tile.children].some(c => c.scrollWidth > c.clientWidth
                                               || c.getBoundingClientRect().right > box.right);
           }).map(tile => tile.dataset.region)"""
    )


async def test_the_pool_view_shows_every_member_live_with_the_own_region_first_and_is_accessible(
    env: dict[str, str], infra: Infrastructure, isolation: Isolation
) -> None:
    assert AXE.exists(), "run deploy/local/browser.sh (npm ci in services/monitoring) first"
    schakel_key = create_key("schakelfunctionaris", "sf.gooi", env)
    operator_key = create_key("operator", "beleid", env)
    gemeente_key = create_key("gemeente", "0402", env)
    pool_topic = isolation.topic(topics.pool_capacity(POOL))
    shortage = PoolShortageDetected(
        pool=POOL,
        region="flevoland",
        shortage_id=uuid.uuid4(),
        setting=JZP,
        free_places=0,
        waiting=2,
        detected_at=datetime.now(UTC) - timedelta(hours=2),
    )
    ARTIFACTS.mkdir(exist_ok=True)

    with service_process("monitoring", free_port(), env, "e2e-pool-view-monitoring") as monitoring:
        async with httpx.AsyncClient(timeout=30) as http, async_playwright() as playwright:

            async def ready() -> bool:
                return (await http.get(f"{monitoring}/readyz")).status_code == 200

            await eventually(ready, timeout=60, what="monitoring ready")
            await _tell(
                infra,
                pool_topic,
                _places(OWN, "11111111", 1, 4, reserved=1),
                _places("eemland", "22222222", 3, 6),
                _places("eemland", "33333333", 0, 2, reserved=2),
                _places("lekstroom", "44444444", 2, 3),
                _places("utrecht-stad", "55555555", 0, 5),
                _places("zuid-oost-utrecht", "66666666", 6, 9),
                _places("flevoland", "77777777", 0, 4),
                shortage,
            )

            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
            )
            page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="nl-NL")
            await page.goto(monitoring + "/schakelfunctie")
            await _sign_in(page, schakel_key)
            tiles = page.locator('#pool-tegels [data-pool-setting="jeugdzorgplus"] .schakel-tile')
            await expect(tiles).to_have_count(len(MEMBERS), timeout=20_000)
            flevoland = tiles.and_(page.locator('[data-region="flevoland"]'))
            await expect(flevoland).to_have_attribute("data-state", "tekort", timeout=20_000)

            # This region first, marked in words; then the others in the pool's order of members.
            assert [await tiles.nth(i).get_attribute("data-region") for i in range(len(MEMBERS))] == list(MEMBERS)
            await expect(tiles.first).to_have_attribute("data-own", "ja")
            await expect(tiles.first).to_contain_text("Eigen regio")
            await expect(tiles.first).to_contain_text("1 van 4 vrij")
            await expect(tiles.first).to_contain_text("1 plek gereserveerd, 1 aanbieder")
            await expect(tiles.nth(1)).not_to_contain_text("Eigen regio")
            await expect(tiles.nth(1)).to_contain_text("2 plekken gereserveerd, 2 aanbieders")
            await expect(flevoland).to_contain_text("Tekort sinds")
            await expect(tiles.and_(page.locator('[data-region="utrecht-west"]'))).to_contain_text("Niets gemeld")
            totals = page.locator('#pool-tegels [data-pool-setting="jeugdzorgplus"] .schakel-pool__totals')
            await expect(totals).to_have_text(
                "In de pool 12 van 33 plekken vrij, 3 gereserveerd; 1 regio met een tekort."
            )
            assert await _overflowing(page) == []
            schakel_violations = await _axe_violations(page)
            await page.screenshot(path=str(ARTIFACTS / "pool-view-schakelfunctie.png"), full_page=True)

            # Flevoland finds a place and its shortage ends; Eemland's last place is taken: both live.
            await page.evaluate("window.__notReloaded = true")
            await _tell(
                infra,
                pool_topic,
                _places("flevoland", "77777777", 1, 4, minutes=1),
                PoolShortageResolved(**shortage.model_dump(), resolved_at=datetime.now(UTC)),
                _places("eemland", "22222222", 0, 6, reserved=1, minutes=1),
            )
            await expect(flevoland).to_have_attribute("data-state", "krap", timeout=20_000)
            await expect(flevoland).not_to_contain_text("Tekort sinds")
            eemland = tiles.and_(page.locator('[data-region="eemland"]'))
            await expect(eemland).to_contain_text("0 van 8 vrij", timeout=20_000)
            await expect(eemland).to_have_attribute("data-state", "tekort")
            await expect(totals).to_have_text(
                "In de pool 10 van 33 plekken vrij, 4 gereserveerd; geen regio met een tekort."
            )
            assert await page.evaluate("window.__notReloaded === true"), "the page reloaded"

            # The dashboard: an operator sees the figures and the pool view.
            await page.evaluate("sessionStorage.clear()")
            await page.goto(monitoring + "/")
            await _sign_in(page, operator_key)
            await expect(page.locator("#pools")).to_be_visible(timeout=20_000)
            await expect(page.locator("#cijfers")).to_be_visible(timeout=20_000)
            await expect(tiles).to_have_count(len(MEMBERS))
            assert await _overflowing(page) == []
            await page.screenshot(path=str(ARTIFACTS / "pool-view-dashboard.png"), full_page=True)
            dashboard_violations = await _axe_violations(page)

            # A schakelfunctionaris' key shows the pool view on the dashboard, not the figures, and is kept.
            await page.evaluate("sessionStorage.clear()")
            await page.goto(monitoring + "/")
            await _sign_in(page, schakel_key)
            await expect(page.locator("#pools")).to_be_visible(timeout=20_000)
            await expect(page.locator("#aangemeld")).to_be_visible()
            await expect(page.locator("#cijfers")).to_be_hidden()

            # A gemeente's key shows the figures, not the pool view, and is kept.
            await page.evaluate("sessionStorage.clear()")
            await page.goto(monitoring + "/")
            await _sign_in(page, gemeente_key)
            await expect(page.locator("#cijfers")).to_be_visible(timeout=20_000)
            await expect(page.locator("#pools")).to_be_hidden()
            await expect(page.locator("#aangemeld")).to_be_visible()
            await browser.close()

    assert schakel_violations == [], schakel_violations
    assert dashboard_violations == [], dashboard_violations

"""Take docs/img/dashboard.png from a running demo (`make demo`), signed in with its operator key.

Usage: .venv/bin/python docs/screenshot.py  (needs /usr/bin/chromium: deploy/local/browser.sh)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from playwright.async_api import async_playwright

REPO = Path(__file__).resolve().parents[1]
DASHBOARD = "http://127.0.0.1:8004/"


def operator_key() -> str:
    for line in (REPO / "var/demo/keys.txt").read_text().splitlines():
        if line.startswith("operator "):
            return line.split()[-1]
    raise SystemExit("no operator key in var/demo/keys.txt: is `make demo` running?")


async def main() -> None:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = await browser.new_page(viewport={"width": 1440, "height": 900}, locale="nl-NL")
        await page.goto(DASHBOARD)
        await page.fill("#sleutel-invoer", operator_key())
        await page.press("#sleutel-invoer", "Enter")
        await page.wait_for_selector("#cijfers:not([hidden]) #totalen dt", timeout=30_000)
        await page.wait_for_timeout(1500)  # let Chart.js finish its entry animation before the picture
        await page.screenshot(path=str(REPO / "docs/img/dashboard.png"), full_page=True)
        await browser.close()


if __name__ == "__main__":
    asyncio.run(main())

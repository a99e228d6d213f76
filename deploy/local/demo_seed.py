"""Seed a running local system with a small demo region: keys and verblijf capacity.

Minimal on purpose: the simulator (a later issue) will feed a realistic region. Driemilieu has
no provider at all — as in the region's 2020 procurement, which drew no bids — so the demo
opens with one live shortage for the schakelfunctionaris.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

import httpx

CAPACITY = "http://127.0.0.1:8003"
SERVICES = {"intake": 8001, "contracting": 8002, "capacity": 8003, "monitoring": 8004}
# Invented AGB codes: demo providers, not real organisations.
DEMO_CAPACITY = {
    "90000001": {"gezinshuis": (6, 5), "pleegzorg": (12, 10)},
    "90000002": {"residentieel": (24, 21), "crisisplek": (4, 3), "tussenvoorziening": (8, 8)},
    "90000003": {"residentieel": (16, 16), "crisisplek": (2, 2), "jeugdzorgplus": (10, 9)},
    "90000004": {"driemilieu": (0, 0)},
}


def key(role: str, subject: str) -> str:
    result = subprocess.run([sys.executable, "-m", "services.runtime.keys", "create", "--role", role,
                             "--subject", subject, "--label", "demo"],
                            check=True, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    return result.stdout.strip()


def wait_ready(timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    pending = dict(SERVICES)
    while pending and time.monotonic() < deadline:
        for name, port in list(pending.items()):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    print(f"{name} ready")
                    del pending[name]
            except httpx.TransportError:
                pass
        time.sleep(0.5)
    if pending:
        raise SystemExit(f"not ready after {timeout:.0f} s: {', '.join(pending)} (see var/demo/*.log)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=Path, required=True, help="where to write the demo keys")
    args = parser.parse_args()
    wait_ready()
    keys = {f"provider {agb}": key("provider", agb) for agb in DEMO_CAPACITY}
    keys["schakelfunctionaris"] = key("schakelfunctionaris", "sf.gooi-en-vechtstreek")
    keys["operator"] = key("operator", "demo-operator")
    with httpx.Client(base_url=CAPACITY, timeout=10) as http:
        for agb, settings in DEMO_CAPACITY.items():
            headers = {"Authorization": f"Bearer {keys[f'provider {agb}']}"}
            for setting, (total, occupied) in settings.items():
                http.put(f"/v1/capacity/{agb}/{setting}", headers=headers,
                         json={"total": total, "occupied": occupied, "age_min": 0, "age_max": 18}).raise_for_status()
    args.keys.write_text("".join(f"{who}: {k}\n" for who, k in keys.items()))
    print(f"Demo keys (also in {args.keys}):")
    print(f"  schakelfunctionaris: {keys['schakelfunctionaris']}")
    print(f"  operator:            {keys['operator']}")
    print(f"  live alerts: curl -N -H 'Authorization: Bearer {keys['schakelfunctionaris']}' "
          f"'{CAPACITY}/v1/alerts/stream?since=0'")


if __name__ == "__main__":
    main()

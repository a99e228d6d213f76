"""`deploy/local/demo.sh --check --regions 2`: two regions of pool midden-nederland on one Kafka.

Gooi en Vechtstreek (ports 8001-8004, no namespace) plays a month that ends with a JeugdzorgPlus
shortage; Eemland (ports 8012-8014, namespace and schema ``eemland``) admits its providers and
reports their places. The check passes once Gooi en Vechtstreek's capacity shows its own shortage
and Eemland's free JeugdzorgPlus place, told over the shared pool topic. The demo uses its fixed
ports: it fails, saying so, while another demo runs on this machine.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.support.infra import REPO


@pytest.mark.timeout(420)
def test_two_region_demo_shows_a_shortage_here_and_room_in_the_partner_region() -> None:
    run = subprocess.run(
        [str(REPO / "deploy/local/demo.sh"), "--check", "--regions", "2"],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=400,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "check: dashboard has data" in output
    assert "check: pool midden-nederland: JeugdzorgPlus short in Gooi en Vechtstreek" in output
    assert "http://127.0.0.1:8014/" in output  # Eemland's dashboard is announced

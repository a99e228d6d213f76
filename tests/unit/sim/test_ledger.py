"""The simulator's ledger: every call answered 2xx, by kind and id, and nothing else; a call that
gets no answer (a replica killed mid-call) is counted as failed and the run carries on."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from services.sim.calls import Calls, Ledger, Urls

REFERRAL_ID = "6f1c9d1e-8a43-4b9e-9a77-0d6c1c1f2a10"


def _calls(handler, ledger: Ledger) -> Calls:  # type: ignore[no-untyped-def]
    calls = Calls(Urls(), ledger)
    calls.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return calls


def _lines(path: Path) -> list[dict[str, str]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_a_call_answered_2xx_is_written_with_the_id_read_from_its_answer(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    calls = _calls(lambda request: httpx.Response(201, json={"referral_id": REFERRAL_ID}), ledger)

    answer = await calls.call(
        "POST", calls.urls.intake, "/v1/referrals", "key", {}, what="referral", ref=lambda a: a["referral_id"]
    )
    await calls.call("PUT", calls.urls.capacity, "/v1/capacity/x/crisisplek", "key", {}, what="report", ref="x/c")
    ledger.close()

    assert answer == {"referral_id": REFERRAL_ID}
    assert _lines(path) == [{"kind": "referral", "id": REFERRAL_ID}, {"kind": "report", "id": "x/c"}]


async def test_a_refused_call_and_a_call_without_a_ref_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    statuses = iter([422, 200])
    calls = _calls(lambda request: httpx.Response(next(statuses), json={"detail": "no"}), ledger)

    assert await calls.call("POST", calls.urls.intake, "/v1/referrals", "k", {}, what="referral", ref="r") is None
    assert await calls.call("GET", calls.urls.contracting, "/v1/lots", "k", what="lots") == {"detail": "no"}
    ledger.close()

    assert path.read_text() == ""
    assert calls.counts == {"referral refused": 1, "lots": 1}


async def test_a_call_that_gets_no_answer_is_counted_as_failed_and_the_run_goes_on(tmp_path: Path) -> None:
    def gone(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)

    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    calls = _calls(gone, ledger)

    answer = await calls.call("POST", calls.urls.intake, "/v1/referrals", "k", {}, what="referral", ref="r")
    ledger.close()

    assert answer is None
    assert calls.counts == {"referral failed": 1}
    assert path.read_text() == ""


def test_without_a_file_the_ledger_writes_nothing() -> None:
    ledger = Ledger()
    ledger.record("referral", REFERRAL_ID)
    ledger.close()

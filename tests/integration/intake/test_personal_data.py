"""Personal data over time, on the real database: re-sealing under a new encryption key, a
pseudonym that survives rotation of its key, erasure on request and after the retention period —
which keeps the pseudonymous referral rows every count is built on."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import timedelta

import asyncpg
import httpx

from services.intake.app import build
from services.intake.privacy import Vault, client_ref
from services.intake.settings import IntakeSettings
from services.runtime.roles import Role
from tests.integration.intake.conftest import Served, allocation_body, client, referral_body
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.server import serving

GP = "02:01234567"
DEV = IntakeSettings(dev_mode=True)
YOUTHS = ("111222333", "123456782")
NAME = "Voorbeeld-Jansen"


async def _refer(intake: Served, http: httpx.AsyncClient, keys, bsn: str, **client_fields) -> dict:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals",
        headers=await keys(Role.REFERRER, GP),
        json=referral_body(client=client(bsn=bsn, **client_fields)),
    )
    assert response.status_code == 201, response.text
    return response.json()


def privacy_admin(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.intake.privacy_admin", *args],
        cwd=REPO,
        check=False,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )


async def _withdraw_with_a_note(intake: Served, http: httpx.AsyncClient, keys, referral_id: str) -> None:  # type: ignore[no-untyped-def]
    response = await http.post(
        f"{intake.url}/v1/referrals/{referral_id}/withdrawal",
        headers=await keys(Role.REFERRER, GP),
        json={"reason": "verhuisd", "note": f"{NAME} verhuist naar Zwolle"},
    )
    assert response.status_code == 200, response.text


async def _notes(db: asyncpg.Pool, referral_id: str) -> list[str]:
    """What intake still holds of a referral's withdrawal: its reason and its history entry."""
    reason = await db.fetchval("SELECT withdrawal_reason FROM referral WHERE id = $1::uuid", referral_id)
    details = await db.fetch(
        "SELECT detail FROM referral_history WHERE referral_id = $1::uuid AND step = 'withdrawn'", referral_id
    )
    return [reason, *(r["detail"] for r in details)]


async def _personal(db: asyncpg.Pool, ref: str) -> asyncpg.Record:
    return await db.fetchrow("SELECT personal, erased_at FROM client WHERE client_ref = $1", ref)


async def test_rotate_reseals_every_record_under_the_new_key_and_it_still_opens(
    intake: Served, keys, http, db: asyncpg.Pool, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    refs = [(await _refer(intake, http, keys, bsn))["client_ref"] for bsn in YOUTHS]
    new = Vault.new_key()
    only_new = {**isolation.env(infra), "SCHAKEL_ENCRYPTION_KEY": new}
    with_old = {**only_new, "SCHAKEL_PREVIOUS_ENCRYPTION_KEYS": json.dumps([DEV.fernet_key().decode()])}

    # The old key left out too early: nothing is touched and the operator is told.
    refused = privacy_admin(only_new, "rotate")
    assert refused.returncode == 1 and "2 record(s) open with none of the configured keys" in refused.stderr
    assert "keep the previous encryption keys" in privacy_admin(with_old, "status").stdout

    done = privacy_admin(with_old, "rotate", "--batch-size", "1")
    assert done.returncode == 0, done.stderr
    assert "re-sealed 2 record(s) with the newest key; 0 already were" in done.stdout
    for ref, bsn in zip(refs, YOUTHS, strict=True):
        person = Vault(new).open(bytes((await _personal(db, ref))["personal"]))
        assert (person.bsn, person.birth_date.isoformat()) == (bsn, "2012-05-01")

    again = privacy_admin(with_old, "rotate")
    assert "re-sealed 0 record(s) with the newest key; 2 already were" in again.stdout
    status = privacy_admin(only_new, "status").stdout
    assert "newest key: 2; older keys: 0; no configured key: 0" in status and "may be retired" in status


async def test_a_youth_keeps_its_client_ref_when_the_pseudonym_key_is_rotated_and_a_new_youth_gets_the_new_key(
    intake: Served, keys, http, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    known = await _refer(intake, http, keys, YOUTHS[0])
    assert known["client_ref"] == client_ref(YOUTHS[0], DEV.client_ref_key())
    new_secret = "n" * 40
    rotated = isolation.settings(
        IntakeSettings,
        infra,
        dev_mode=True,
        client_ref_secret=new_secret,
        previous_client_ref_secrets=[DEV.client_ref_key().decode()],
    )
    async with serving(build(rotated)) as url:
        again = await http.post(
            f"{url}/v1/referrals",
            headers=await keys(Role.REFERRER, GP),
            json=referral_body(client=client(bsn=YOUTHS[0])),
        )
        newcomer = await http.post(
            f"{url}/v1/referrals",
            headers=await keys(Role.REFERRER, GP),
            json=referral_body(client=client(bsn=YOUTHS[1])),
        )
    assert again.json()["client_ref"] == known["client_ref"]
    assert newcomer.json()["client_ref"] == client_ref(YOUTHS[1], new_secret.encode())


async def test_an_admin_erases_a_youths_personal_data_on_request_and_the_referral_stays(
    intake: Served, keys, http, db: asyncpg.Pool, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    referral = await _refer(intake, http, keys, YOUTHS[0])
    other = await _refer(intake, http, keys, YOUTHS[1])
    await _withdraw_with_a_note(intake, http, keys, referral["referral_id"])
    assert all(NAME in note for note in await _notes(db, referral["referral_id"]))
    url = f"{intake.url}/v1/referrals/{referral['referral_id']}/personal-data"
    assert (await http.delete(url, headers=await keys(Role.OPERATOR))).status_code == 403
    unknown = f"{intake.url}/v1/referrals/00000000-0000-4000-8000-000000000000/personal-data"
    assert (await http.delete(unknown, headers=await keys(Role.ADMIN, "privacy-desk"))).status_code == 404

    erased = await http.delete(url, headers=await keys(Role.ADMIN, "privacy-desk"))
    assert erased.status_code == 200, erased.text
    assert erased.json()["erased_clients"] == 1
    row = await _personal(db, referral["client_ref"])
    assert row["personal"] is None and row["erased_at"] is not None
    assert (await _personal(db, other["client_ref"]))["personal"] is not None
    assert await _notes(db, referral["referral_id"]) == ["verhuisd", "verhuisd"]  # the code stays, the words go

    # The pseudonymous referral is still there for its readers and every aggregate.
    kept = await http.get(f"{intake.url}/v1/referrals/{referral['referral_id']}", headers=await keys(Role.OPERATOR))
    assert kept.status_code == 200 and kept.json()["client_ref"] == referral["client_ref"]
    audit = [dict(r) for r in await db.fetch("SELECT actor, reason, clients, referral_id FROM personal_data_erasure")]
    assert [(a["actor"], a["reason"], a["clients"], str(a["referral_id"])) for a in audit] == [
        ("admin:privacy-desk", "request", 1, referral["referral_id"])
    ]
    assert YOUTHS[0] not in str(audit)
    assert f"for referral {referral['referral_id']} on request of admin:privacy-desk" in caplog.text
    assert not any(secret in caplog.text for secret in (*YOUTHS, "2012-05-01", NAME))

    twice = await http.delete(url, headers=await keys(Role.ADMIN, "privacy-desk"))
    assert twice.json()["erased_clients"] == 0
    # Referred again, the youth is known again under the same pseudonym.
    back = await _refer(intake, http, keys, YOUTHS[0])
    assert back["client_ref"] == referral["client_ref"]
    restored = await _personal(db, referral["client_ref"])
    assert restored["erased_at"] is None
    assert Vault(DEV.fernet_key()).open(bytes(restored["personal"])).bsn == YOUTHS[0]


async def test_retention_erases_youths_without_activity_for_seven_years_and_keeps_their_rows(
    intake: Served, keys, http, db: asyncpg.Pool, caplog
) -> None:  # type: ignore[no-untyped-def]
    caplog.set_level(logging.DEBUG)
    gone = await _refer(intake, http, keys, YOUTHS[0])
    await _withdraw_with_a_note(intake, http, keys, gone["referral_id"])
    in_care = await _refer(intake, http, keys, YOUTHS[1])
    # A toewijzing running seven years and a month from now keeps its youth's data past the cut-off.
    end = (intake.clock.now() + timedelta(days=7 * 366 + 31)).date().isoformat()
    allocation = await http.post(
        f"{intake.url}/v1/referrals/{in_care['referral_id']}/allocations",
        headers=await keys(Role.GEMEENTE, "0402"),
        json=allocation_body(start_date="2026-01-01", end_date=end),
    )
    assert allocation.status_code == 201, allocation.text

    retention = intake.app.state.retention
    assert await retention.check() == 0  # nothing is old enough yet
    intake.clock.advance(timedelta(days=7 * 365 + 3))
    assert await retention.check() == 1
    assert await retention.check() == 0

    assert (await _personal(db, gone["client_ref"]))["personal"] is None
    assert await _notes(db, gone["referral_id"]) == ["verhuisd", "verhuisd"]
    assert (await _personal(db, in_care["client_ref"]))["personal"] is not None
    assert await db.fetchval("SELECT count(*) FROM referral") == 2
    assert await db.fetchval("SELECT count(*) FROM allocation") == 1
    [audit] = await db.fetch("SELECT actor, reason, clients, cutoff FROM personal_data_erasure")
    assert (audit["actor"], audit["reason"], audit["clients"]) == ("intake:retention", "retention", 1)
    metrics = (await http.get(f"{intake.url}/metrics")).text
    assert 'schakel_intake_personal_data_erased_total{reason="retention"} 1.0' in metrics
    assert "erased personal data of 1 youth(s) without activity since" in caplog.text
    assert not any(secret in caplog.text for secret in (*YOUTHS, "2012-05-01", NAME))


async def test_the_cli_erases_on_request_and_after_retention_and_shows_the_audit(
    intake: Served, keys, http, db: asyncpg.Pool, infra: Infrastructure, isolation: Isolation
) -> None:  # type: ignore[no-untyped-def]
    referral = await _refer(intake, http, keys, YOUTHS[0])
    env = isolation.env(infra)
    refused = privacy_admin(env, "erase", "--referral", referral["referral_id"], "--by", "jan@example.nl")
    assert refused.returncode != 0 and (await _personal(db, referral["client_ref"]))["personal"] is not None

    done = privacy_admin(env, "erase", "--referral", referral["referral_id"], "--by", "privacy-desk")
    assert done.returncode == 0 and "erased the personal data of 1 youth(s)" in done.stdout
    assert (await _personal(db, referral["client_ref"]))["personal"] is None
    expired = privacy_admin(env, "erase-expired", "--by", "privacy-desk")
    assert "erased the personal data of 0 youth(s) past the retention period" in expired.stdout
    audit = privacy_admin(env, "erasures").stdout
    assert "operator:privacy-desk  request  1 youth(s)  referral " + referral["referral_id"] in audit
    assert YOUTHS[0] not in audit

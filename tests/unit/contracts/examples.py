"""One valid payload per event type: the contract tests require an example for every event."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from contracts import capacity as cap
from contracts import contracting as con
from contracts import intake as ik
from contracts.codes import (
    Productcategorie,
    RedenAfwijzing,
    RedenBeeindiging,
    RedenWijziging,
    Retourcode,
    Urgentie,
    Verwijzer,
)
from contracts.envelope import EventData
from contracts.verblijf import Setting

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
REF = "a" * 64
ID = uuid.UUID("00000000-0000-4000-8000-000000000001")

EXAMPLES: list[EventData] = [
    ik.ReferralReceived(referral_id=ID, client_ref=REF, age=14, municipality_code="0402",
                        referrer_type=Verwijzer.HUISARTS, referrer_agb="01234567",
                        product_category=Productcategorie.VERBLIJF_INCL_BEHANDELING,
                        settings=[Setting.GEZINSHUIS, Setting.RESIDENTIEEL], urgency=Urgentie.SPOED,
                        ambulant_tried=True, needs_gemeente_decision=True, received_at=NOW),
    ik.ReferralWithdrawn(referral_id=ID, client_ref=REF, municipality_code="0402", reason="verhuisd",
                         withdrawn_at=NOW),
    ik.AllocationIssued(allocation_id=ID, allocation_number=1, referral_id=ID, client_ref=REF,
                        municipality_code="0402", provider_agb="87654321",
                        product_category=Productcategorie.AMBULANT, product_code="45A48",
                        start_date=date(2026, 12, 1), end_date=date(2027, 5, 31), volume=4, unit="04",
                        frequency="2", issued_at=NOW),
    ik.AllocationWithdrawn(allocation_id=ID, referral_id=ID, municipality_code="0402", provider_agb="87654321",
                           reason=RedenWijziging.NOOIT_GELDIG, effective_date=date(2026, 12, 1), withdrawn_at=NOW),
    ik.CareStarted(allocation_id=ID, referral_id=ID, client_ref=REF, municipality_code="0402",
                   provider_agb="87654321", product_category=Productcategorie.AMBULANT,
                   start_date=date(2026, 12, 1), reported_at=NOW),
    ik.CareEnded(allocation_id=ID, referral_id=ID, client_ref=REF, municipality_code="0402",
                 provider_agb="87654321", product_category=Productcategorie.AMBULANT, end_date=date(2027, 3, 1),
                 reason=RedenBeeindiging.VOLGENS_PLAN, reported_at=NOW),
    con.ApplicationReceived(application_id=ID, provider_agb="87654321", lots=["VERBLIJF-1"], received_at=NOW),
    con.ProviderAdmitted(application_id=ID, contract_id=ID, provider_agb="87654321", lot="VERBLIJF-1",
                         settings=[Setting.GEZINSHUIS], min_capacity=1, valid_from=date(2026, 12, 1),
                         valid_to=date(2034, 11, 30), admitted_at=NOW),
    con.ProviderWaitlisted(application_id=ID, provider_agb="87654321", lot="AMBULANT-2", position=3,
                           waitlisted_at=NOW),
    con.ApplicationRejected(application_id=ID, provider_agb="87654321", lot="VERBLIJF-1",
                            reasons=["geen keurmerk"], rejected_at=NOW),
    con.ContractEnded(contract_id=ID, provider_agb="87654321", lot="VERBLIJF-1", end_date=date(2034, 11, 30),
                      reason="einde looptijd", ended_at=NOW),
    con.DeclarationSubmitted(declaration_id=ID, provider_agb="87654321", municipality_code="0402",
                             period_start=date(2026, 11, 1), period_end=date(2026, 11, 30), lines=1, amount=12_345,
                             submitted_at=NOW),
    con.DeclarationAssessed(declaration_id=ID, provider_agb="87654321", municipality_code="0402",
                            lines=[con.AssessedLine(line_number=1, allocation_id=ID, product_code="45A48",
                                                    amount=12_345, approved=True,
                                                    return_codes=[Retourcode.GOEDGEKEURD])],
                            approved_amount=12_345, rejected_amount=0, assessed_at=NOW),
    cap.CapacityReported(agb="87654321", setting=Setting.GEZINSHUIS, total=4, occupied=3, free=1,
                         closed_to_admission=False, age_min=4, age_max=18, reported_at=NOW, regional_free=7),
    cap.PlacementRequested(placement_id=ID, referral_id=ID, client_ref=REF, age=15, municipality_code="0402",
                           product_category=Productcategorie.CRISIS, settings=[Setting.CRISISPLEK],
                           urgency=Urgentie.CRISIS, requested_at=NOW),
    cap.PlacementProposed(placement_id=ID, referral_id=ID, provider_agb="87654321", setting=Setting.CRISISPLEK,
                          reserved_until=NOW, proposed_at=NOW),
    cap.PlacementConfirmed(placement_id=ID, referral_id=ID, client_ref=REF, provider_agb="87654321",
                           setting=Setting.CRISISPLEK, confirmed_at=NOW),
    cap.PlacementDeclined(placement_id=ID, referral_id=ID, provider_agb="87654321", setting=Setting.CRISISPLEK,
                          reason="past niet in groep", declined_at=NOW),
    cap.ShortageDetected(shortage_id=ID, setting=Setting.RESIDENTIEEL, free_places=0, waiting=2,
                         severity=cap.Severity.KRITIEK, detected_at=NOW),
    cap.ShortageResolved(shortage_id=ID, setting=Setting.RESIDENTIEEL, free_places=2, waiting=0, detected_at=NOW,
                         resolved_at=NOW, duration_seconds=0),
    cap.CaseEscalated(placement_id=ID, referral_id=ID, client_ref=REF, age=15, municipality_code="0402",
                      settings=[Setting.CRISISPLEK], urgency=Urgentie.CRISIS,
                      level=cap.EscalationLevel.SCHAKELFUNCTIONARIS, reason="geen plek binnen 4 uur",
                      waiting_since=NOW, escalated_at=NOW),
    cap.CapacityReportStale(agb="87654321", setting=Setting.GEZINSHUIS, last_reported_at=NOW,
                            stale_after_seconds=86_400, detected_at=NOW),
    cap.AlertAcknowledged(alert_id=ID, alert_type="nl.schakel.capacity.ShortageDetected",
                          acknowledged_by_role="schakelfunctionaris", acknowledged_by="regio-gv",
                          acknowledged_at=NOW),
    ik.AllocationChanged(allocation_id=ID, allocation_number=1, referral_id=ID, client_ref=REF,
                         municipality_code="0402", provider_agb="87654321",
                         reason=RedenWijziging.WIJZIGING_ZORGBEHOEFTE, start_date=date(2026, 12, 1),
                         end_date=date(2027, 8, 31), volume=6, unit="04", frequency="2", changed_at=NOW),
    ik.AllocationRequested(request_id=ID, referral_id=ID, client_ref=REF, municipality_code="0402",
                           provider_agb="87654321", product_category=Productcategorie.AMBULANT, product_code="45A48",
                           start_date=date(2026, 12, 1), end_date=date(2027, 5, 31), requested_at=NOW,
                           answer_due=NOW),
    ik.AllocationRequestRejected(request_id=ID, referral_id=ID, municipality_code="0402", provider_agb="87654321",
                                 reason=RedenAfwijzing.STAPELING, rejected_at=NOW),
    ik.AllocationRequestOverdue(request_id=ID, referral_id=ID, municipality_code="0402", provider_agb="87654321",
                                requested_at=NOW, answer_due=NOW, detected_at=NOW),
]

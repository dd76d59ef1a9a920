"""The seeded matrix, table-driven from the statutes' own numbers; versions in force;
admins' corrections logged and never moving a started clock."""

from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse

from config import roles
from incidents.models import Regime, RegimeChange, Regulator
from incidents.regime_data import STATES, regimes_seed

from .test_admin import as_role  # noqa: F401  (fixture)
from .test_jurisdictions import opened, owed, scope

pytestmark = pytest.mark.django_db

JURISDICTIONS = {s.code for s in STATES}


def test_every_state_dc_and_the_territories_have_a_consumer_notice():
    fifty = {
        "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "FL", "GA", "HI", "ID", "IL", "IN",
        "IA", "KS", "KY", "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV",
        "NH", "NJ", "NM", "NY", "NC", "ND", "OH", "OK", "OR", "PA", "RI", "SC", "SD", "TN",
        "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY",
    }  # fmt: skip
    assert fifty | {"DC", "PR", "GU", "VI"} == JURISDICTIONS
    consumer = Regime.objects.filter(name__endswith="notify affected residents")
    assert {r for regime in consumer for r in regime.regions} == JURISDICTIONS


@pytest.mark.parametrize(
    ("code", "amount", "unit", "threshold", "clock_start"),
    [
        # Consumer notices.
        ("us-ca", 30, "days", 0, "awareness"),
        ("us-tx-individuals", 60, "days", 0, "determination"),
        ("us-co", 30, "days", 0, "determination"),
        ("us-wa", 30, "days", 0, "awareness"),
        ("us-ga", None, "none", 0, "awareness"),
        # Attorney-general and regulator notices, with their thresholds.
        ("us-tx-attorney-general", 30, "days", 250, "determination"),
        ("us-ca-attorney-general", 15, "days", 501, "consumer_notice"),
        ("us-ia-attorney-general", 5, "business_days", 501, "consumer_notice"),
        ("us-or-attorney-general", 45, "days", 251, "awareness"),
        ("us-nd-attorney-general", None, "none", 251, "awareness"),
        ("us-fl-attorney-general", 30, "days", 500, "determination"),
        ("us-dc-attorney-general", None, "none", 50, "awareness"),
        # Consumer reporting agencies: more than 1,000, Texas 10,000, New York 5,000.
        ("us-tx-cra", None, "none", 10001, "determination"),
        ("us-ny-cra", None, "none", 5001, "awareness"),
        ("us-ga-cra", None, "none", 10001, "awareness"),
        ("us-oh-cra", None, "none", 1001, "awareness"),
        ("us-mn-cra", None, "none", 501, "awareness"),
        # Sector regimes.
        ("hipaa-annual-log", 60, "days", 0, "year_end"),
        ("nydfs-500-17", 72, "hours", 0, "determination"),
        ("ftc-safeguards", 30, "days", 500, "awareness"),
        ("reg-s-p-customers", 30, "days", 0, "awareness"),
        ("us-bank-36h", 36, "hours", 0, "determination"),
        ("dora-initial", 24, "hours", 0, "awareness"),
        ("dora-intermediate", 72, "hours", 0, "preceding_filing"),
        ("dora-final", 1, "months", 0, "preceding_filing"),
        ("eprivacy-611-2013", 24, "hours", 0, "awareness"),
        ("nis2-final-after-handling", 1, "months", 0, "containment"),
        # Beyond the US and the EU.
        ("au-ndb", 30, "days", 0, "awareness"),
        ("sg-pdpa", 3, "days", 0, "determination"),
        ("br-lgpd", 3, "business_days", 0, "awareness"),
        ("jp-appi-preliminary", 5, "days", 0, "awareness"),
        ("jp-appi-final", 30, "days", 0, "awareness"),
        ("in-dpdp", 72, "hours", 0, "awareness"),
        ("kr-pipa", 72, "hours", 1000, "awareness"),
        ("ca-pipeda", None, "none", 0, "awareness"),
        ("ch-nfadp", None, "none", 0, "awareness"),
    ],
)
def test_regimes_carry_the_statutes_numbers(code, amount, unit, threshold, clock_start):
    regime = Regime.objects.get(code=code)
    assert (
        regime.deadline_amount,
        regime.deadline_unit,
        regime.min_affected,
        regime.clock_start,
    ) == (amount, unit, threshold, clock_start)
    assert regime.source


@pytest.mark.parametrize(
    ("code", "relation"),
    [
        ("us-md-attorney-general", "before"),
        ("us-nj-attorney-general", "before"),
        ("us-mt-attorney-general", "same_time"),
        ("us-ct-attorney-general", "no_later_than"),
        ("us-ar-attorney-general", "sooner_of"),
        ("us-vt-attorney-general", "sooner_of"),
    ],
)
def test_notices_ordered_against_the_consumer_notice(code, relation):
    regime = Regime.objects.select_related("relative_to").get(code=code)
    assert regime.relation == relation
    assert regime.relative_to is not None
    assert regime.relative_to.name.endswith("notify affected residents")


def test_every_ag_notice_has_its_authority_in_the_directory():
    for regime in Regime.objects.filter(code__endswith="-attorney-general"):
        assert regime.regulator is not None, regime.code
    assert Regulator.objects.get(code="us-pr-ag").language == "es"
    assert Regulator.objects.get(code="br-anpd").language == "pt"


def test_a_breach_is_judged_by_the_law_in_force_when_discovered(settings):
    settings.COMPANY_FTC_SAFEGUARDS = True
    before = opened()
    type(before).objects.filter(pk=before.pk).update(
        awareness_at=datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    )
    scope(before, [("US", "TX", "", 600)])
    assert "ftc-safeguards" not in owed(before)

    after = opened()
    scope(after, [("US", "TX", "", 600)])
    assert "ftc-safeguards" in owed(after)


def test_an_admin_correction_is_logged_and_moves_no_started_clock(as_role):  # noqa: F811
    incident = opened()
    scope(incident, [("US", "Texas", "", 1)])
    before = owed(incident)["us-tx-individuals"]
    regime = Regime.objects.get(code="us-tx-individuals")
    url = reverse("admin:incidents_regime_change", args=[regime.pk])
    client = as_role(roles.DPO)
    form = client.get(url).context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None}
    data.update(
        {
            "deadline_amount": 45,
            "countries": '["US"]',
            "regions": '["TX"]',
            "regulator": "",
            "follows": "",
            "relative_to": "",
            "changes-TOTAL_FORMS": "0",
            "changes-INITIAL_FORMS": "0",
        }
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:3000]

    change = RegimeChange.objects.get(regime=regime)
    assert change.before["deadline_amount"] == 60
    assert change.after["deadline_amount"] == 45
    assert owed(incident)["us-tx-individuals"].due_at == before.due_at
    # The seed leaves a regime an admin corrected as the admin left it.
    regimes_seed()
    assert Regime.objects.get(code="us-tx-individuals").deadline_amount == 45


def test_seed_regimes_runs_again_without_duplicates(capsys):
    count = Regime.objects.count()
    call_command("seed_regimes")
    assert Regime.objects.count() == count
    assert "0 created" in capsys.readouterr().out


def test_a_fifty_state_scope_owes_every_state_and_says_why():
    incident = opened()
    scope(incident, [("US", code, "", 2) for code in sorted(JURISDICTIONS)])
    obligations = owed(incident)
    for state in STATES:
        consumer = "us-tx-individuals" if state.code == "TX" else f"us-{state.code.lower()}"
        assert obligations[consumer].why == f"2 affected residents of {state.code}"
    # Any-resident AG notices are owed; thresholded ones are not, at 2 people.
    assert "us-ct-attorney-general" in obligations
    assert "us-tx-attorney-general" not in obligations
    assert obligations["us-md-attorney-general"].due_at == obligations["us-md"].due_at
    assert timedelta(0) <= obligations["us-md"].due_at - incident.awareness_at

"""Consumer-notice obligations met by the notices sent, per jurisdiction."""

from datetime import UTC, datetime

import pytest
from django.db.models import DateTimeField, Value

from incidents.models import AffectedCustomer
from incidents.services import obligations_meet_by_notices

from .test_jurisdictions import opened, owed, scope

pytestmark = pytest.mark.django_db


def sent_at(incident, when):
    """The ledger's shape: one row per message with its customer and sent_at."""
    return AffectedCustomer.objects.filter(incident=incident).annotate(
        sent_at=Value(when, output_field=DateTimeField())
    )


def test_a_notice_in_time_is_met_and_a_late_one_waits_for_its_reason():
    incident = opened()  # aware 27 March 2026
    scope(incident, [("US", "Texas", "", 1), ("US", "", "97201", 1)])  # Texas, Oregon by ZIP

    # Day 45 for Oregon ends 11 May Pacific; Texas has 60 days.
    met = obligations_meet_by_notices(
        incident_id=incident.pk, sent=sent_at(incident, datetime(2026, 5, 20, 15, tzinfo=UTC))
    )

    obligations = owed(incident)
    assert [o.terms["code"] for o in met] == ["us-tx-individuals"]
    assert obligations["us-tx-individuals"].met_at == datetime(2026, 5, 20, 15, tzinfo=UTC)
    assert obligations["us-or"].status == "open"
    late = incident.timeline.get(kind="obligation.notices_sent_late")
    assert late.payload["regime"] == "us-or"

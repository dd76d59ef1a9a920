from io import StringIO

import pytest
from django.apps import apps
from django.core.management.base import OutputWrapper

from incidents.models import Incident

pytestmark = pytest.mark.django_db


def test_demo_seed_opens_one_assessed_drill_incident_however_often_it_runs(settings):
    settings.COMPANY_EU_ESTABLISHMENT = True
    config = apps.get_app_config("incidents")
    out = StringIO()

    config.seed_demo(stdout=OutputWrapper(out))  # type: ignore[attr-defined]
    config.seed_demo(stdout=OutputWrapper(out))  # type: ignore[attr-defined]

    incident = Incident.objects.get()
    assert incident.is_drill and incident.status == Incident.Status.OPEN
    assert incident.assessments.get().level == "medium"
    assert incident.obligations.filter(terms__code="gdpr-art33", due_at__isnull=False).exists()
    assert out.getvalue().count("Demo incident") == 1

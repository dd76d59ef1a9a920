"""A drill's evidence pack says so in its title, on its first page."""

import io

import pytest
from pypdf import PdfReader

from incidents.evidence.services import evidence_pack_render
from incidents.models import Incident

from .evidence_scenario import full_incident

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("is_drill", [True, False])
def test_a_drills_evidence_pack_is_titled_a_drill_and_a_real_ones_is_not(make_user, is_drill):
    incident = full_incident(make_user).incident
    Incident.objects.filter(pk=incident.pk).update(is_drill=is_drill)

    pdf = PdfReader(io.BytesIO(evidence_pack_render(incident_id=incident.pk).pdf))
    first_page = pdf.pages[0].extract_text()

    assert ("DRILL — Evidence pack" in first_page) is is_drill
    assert ("This incident is a drill" in first_page) is is_drill
    assert pdf.metadata is not None
    assert str(pdf.metadata.title or "").startswith("DRILL") is is_drill

"""What each role may do with incidents, pinned by hand."""

import pytest

from config import roles
from tests.roles import granted

pytestmark = pytest.mark.django_db

VIEW = {
    "incidents.view_incident",
    "incidents.view_affectedcustomer",
    "incidents.view_timelineevent",
    "incidents.view_assessment",
    "incidents.view_regime",
    "incidents.view_obligation",
    "incidents.view_forensiclist",
    "incidents.view_forensiclistrow",
    "incidents.view_regulatornotice",
    "incidents.view_filing",
    "incidents.view_businessdayclosure",
    "incidents.view_regulator",
    "incidents.view_obligationpause",
    "incidents.view_regimechange",
}
OPEN_AND_SCOPE = {
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.transition_incident",
    "incidents.scope_incident",
    "incidents.add_assessment",
}
DECIDE_AND_FILE = {
    "incidents.decide_incident",
    "incidents.meet_obligation",
    "incidents.file_regulatornotice",
}
READ_EVIDENCE = {"incidents.view_evidencepack"}
EVIDENCE = READ_EVIDENCE | {"incidents.build_evidencepack"}
DRILL = {"incidents.decide_drill"}

EXPECTED = {
    roles.SECURITY_ANALYST: VIEW | OPEN_AND_SCOPE,
    roles.CISO: VIEW | OPEN_AND_SCOPE | DECIDE_AND_FILE | EVIDENCE | DRILL,
    roles.DPO: VIEW
    | DECIDE_AND_FILE
    | EVIDENCE
    | {
        "incidents.add_regime",
        "incidents.change_regime",
        "incidents.add_businessdayclosure",
        "incidents.add_regulator",
        "incidents.change_regulator",
    },
    roles.CMO: VIEW | EVIDENCE | DRILL,
    roles.LEGAL_REVIEWER: VIEW,
    roles.MARKETING_OPERATOR: VIEW,
    roles.AUDITOR: VIEW | READ_EVIDENCE,
    # Agents see no incident or customer record: only their lookup by reference.
    roles.CALL_CENTRE_AGENT: set(),
}


@pytest.mark.parametrize("role", roles.ROLES)
def test_each_role_holds_exactly_its_incident_permissions(role):
    assert granted(role, "incidents") == EXPECTED[role]


def test_nobody_may_delete_incident_records_or_edit_the_timeline():
    for role in roles.ROLES:
        assert not {
            name
            for name in granted(role, "incidents")
            if name.split(".")[1].startswith(("delete_", "change_timelineevent"))
        }

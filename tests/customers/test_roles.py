"""What each role may do with customers, pinned by hand."""

import pytest

from config import roles
from tests.roles import granted

pytestmark = pytest.mark.django_db

RECORD_VIEW = {
    "customers.view_customer",
    "customers.view_sourcerecord",
    "customers.view_segment",
    "customers.view_segmentmembership",
    "customers.view_touchpoint",
    "customers.view_importjob",
}
IMPORT = {
    "customers.import_customer",
    "customers.view_importrejection",
    "customers.view_importmapping",
    "customers.add_importmapping",
    "customers.change_importmapping",
    "customers.view_placeholderemail",
    "customers.add_placeholderemail",
    "customers.change_placeholderemail",
    "customers.delete_placeholderemail",
    "customers.view_sharedemail",
    "customers.view_sourcepriority",
    "customers.add_sourcepriority",
    "customers.change_sourcepriority",
    "customers.delete_sourcepriority",
    "customers.view_duplicatecandidate",
    "customers.change_duplicatecandidate",
    "customers.view_customermerge",
    "customers.change_customermerge",
}

EXPECTED = {
    roles.MARKETING_OPERATOR: RECORD_VIEW
    | IMPORT
    | {
        "customers.add_segment",
        "customers.change_segment",
        "customers.delete_segment",
        "customers.add_segmentmembership",
        "customers.change_segmentmembership",
        "customers.delete_segmentmembership",
        "customers.export_customer",
        "customers.view_customerexport",
        "customers.view_pii",
    },
    roles.SECURITY_ANALYST: RECORD_VIEW | IMPORT | {"customers.view_pii"},
    roles.CMO: RECORD_VIEW | {"customers.export_customer", "customers.view_customerexport"},
    roles.CISO: RECORD_VIEW,
    roles.DPO: RECORD_VIEW | {"customers.view_pii", "customers.view_piiaccess"},
    roles.LEGAL_REVIEWER: set(),
    roles.AUDITOR: {
        "customers.view_customer",
        "customers.view_sourcerecord",
        "customers.view_segment",
        "customers.view_segmentmembership",
        "customers.view_touchpoint",
        "customers.view_importjob",
        "customers.view_importrejection",
        "customers.view_importmapping",
        "customers.view_piiaccess",
        "customers.view_customerexport",
        "customers.view_placeholderemail",
        "customers.view_sharedemail",
        "customers.view_sourcepriority",
        "customers.view_duplicatecandidate",
        "customers.view_customermerge",
    },
    # Agents see no incident or customer record: only their lookup by reference.
    roles.CALL_CENTRE_AGENT: set(),
}


@pytest.mark.parametrize("role", roles.ROLES)
def test_role_holds_exactly_its_customer_permissions(role):
    assert granted(role, "customers") == EXPECTED[role]


def test_auditor_only_views():
    assert all(".view_" in name for name in granted(roles.AUDITOR, "customers"))

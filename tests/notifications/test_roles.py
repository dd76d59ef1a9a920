"""What each role may do with breach messages, pinned by hand."""

import pytest

from config import roles
from tests.roles import granted

VIEW = {
    "notifications.view_messagetemplate",
    "notifications.view_templateversion",
    "notifications.view_communication",
    "notifications.view_communicationsignoff",
    "notifications.view_delivery",
    "notifications.view_notification",
    "notifications.view_letterbatch",
    "notifications.view_remediationcode",
    "notifications.view_returnedletter",
    "notifications.view_substitutenotice",
    "notifications.view_callcentrepack",
    "notifications.view_deliveryevent",
}
LETTERS = {
    "notifications.add_letterbatch",
    "notifications.post_letterbatch",
    "notifications.change_notification",
    "notifications.add_remediationcode",
    "notifications.import_returnedletter",
}
SEND = {"notifications.send_communication", "notifications.resume_delivery"}
PACK = {"notifications.add_callcentrepack"}
DRAFT = {
    "notifications.add_messagetemplate",
    "notifications.add_templateversion",
    "notifications.change_templateversion",
    "notifications.add_communication",
    "notifications.change_communication",
}
# The way back: the CMO sets a plan up, the CISO consents, either stops it; those who
# bring in the vendors' and the identity system's files record the responses.
RECOVERY_VIEW = {"notifications.view_recoveryplan"}
RESPONSES = RECOVERY_VIEW | {"notifications.record_responses"}
STOP = {"notifications.stop_recoveryplan"}
EXPECTED = {
    roles.LEGAL_REVIEWER: VIEW | {"notifications.review_templateversion"},
    roles.CMO: VIEW
    | LETTERS
    | SEND
    | PACK
    | RESPONSES
    | STOP
    | {"notifications.sign_communication", "notifications.add_recoveryplan"},
    roles.CISO: VIEW
    | LETTERS
    | SEND
    | PACK
    | RESPONSES
    | STOP
    | {"notifications.sign_communication", "notifications.consent_recoveryplan"},
    roles.MARKETING_OPERATOR: VIEW | DRAFT | LETTERS | PACK | RESPONSES,
    roles.SECURITY_ANALYST: VIEW | DRAFT | PACK | RESPONSES,
    roles.DPO: VIEW | RECOVERY_VIEW | {"notifications.decide_substitutenotice"},
    roles.AUDITOR: VIEW | RECOVERY_VIEW,
    # A reference in, that person's notices out: no list, no search, nothing else.
    roles.CALL_CENTRE_AGENT: {"notifications.lookup_notification"},
}


@pytest.mark.django_db
@pytest.mark.parametrize("role", roles.ROLES)
def test_each_role_holds_exactly_its_breach_message_permissions(role):
    assert granted(role, "notifications") == EXPECTED[role]


@pytest.mark.django_db
def test_nobody_deletes_breach_message_records():
    for role in roles.ROLES:
        assert not any(".delete_" in name for name in granted(role, "notifications")), role

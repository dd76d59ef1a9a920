import pytest

from tests.roles import granted

pytestmark = pytest.mark.django_db

READ = {
    "campaigns.view_campaign",
    "campaigns.view_campaignsend",
    "campaigns.view_campaignhold",
    "campaigns.view_campaignexclusion",
    "campaigns.view_withholding",
}
MARKETING = READ | {
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.send_campaign",
    "campaigns.pause_campaign",
}


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("CMO", MARKETING | {"campaigns.resume_campaign"}),
        ("Marketing operator", MARKETING),
        ("CISO", READ),
        ("DPO", READ),
        ("Security analyst", {"campaigns.view_campaign", "campaigns.view_campaignhold"}),
        ("Auditor", READ),
        ("Legal reviewer", set()),
        ("Call-centre agent", set()),
    ],
)
def test_role_holds_exactly_its_campaign_permissions(role, expected):
    assert granted(role, "campaigns") == expected


def test_nobody_may_delete_campaign_records():
    for role in ("CMO", "Marketing operator", "Auditor"):
        assert not {p for p in granted(role, "campaigns") if ".delete_" in p}

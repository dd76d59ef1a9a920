import pytest
from django.contrib.auth.models import Group

from config import roles

# What each role may do, written out by hand: a change to a role's powers must change
# this table too, so it is reviewed as a change of policy.
EXPECTED: dict[str, set[str]] = {
    roles.CMO: set(),
    roles.CISO: set(),
    roles.DPO: set(),
    roles.LEGAL_REVIEWER: set(),
    roles.MARKETING_OPERATOR: set(),
    roles.SECURITY_ANALYST: set(),
    roles.AUDITOR: set(),
}


def granted(role: str) -> set[str]:
    group = Group.objects.get(name=role)
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


@pytest.mark.django_db
def test_migrate_creates_every_role_with_exactly_its_permissions():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)
    for role in roles.ROLES:
        assert granted(role) == EXPECTED[role], role


@pytest.mark.django_db
def test_auditor_can_only_view():
    assert all(name.split(".")[1].startswith("view_") for name in granted(roles.AUDITOR))


@pytest.mark.django_db
def test_sync_restores_permissions_someone_changed_by_hand():
    from django.contrib.auth.models import Permission

    auditor = Group.objects.get(name=roles.AUDITOR)
    auditor.permissions.add(Permission.objects.get(codename="delete_user"))
    roles.roles_sync()
    roles.roles_sync()
    assert granted(roles.AUDITOR) == EXPECTED[roles.AUDITOR]
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)

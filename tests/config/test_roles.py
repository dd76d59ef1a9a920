"""Roles as a whole. What each role may do in an app is pinned in tests/<app>/test_roles.py."""

import pytest
from django.contrib.auth.models import Group, Permission

from config import roles
from tests.roles import granted

# "config" grants the company profile (the kernel's one model).
PROJECT_APPS = {"customers", "incidents", "campaigns", "notifications", "readiness", "config"}


@pytest.mark.django_db
def test_migrate_creates_every_role():
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


@pytest.mark.django_db
def test_roles_hold_no_permission_outside_what_the_apps_declare():
    for role in roles.ROLES:
        outside = {name for name in granted(role) if name.split(".")[0] not in PROJECT_APPS}
        assert outside == set(), role


@pytest.mark.django_db
def test_auditor_can_only_view():
    assert all(name.split(".")[1].startswith("view_") for name in granted(roles.AUDITOR))


@pytest.mark.django_db
def test_sync_restores_permissions_someone_changed_by_hand():
    auditor = Group.objects.get(name=roles.AUDITOR)
    before = granted(roles.AUDITOR)
    auditor.permissions.add(Permission.objects.get(codename="delete_user"))
    roles.roles_sync()
    roles.roles_sync()
    assert granted(roles.AUDITOR) == before
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)


def test_a_grant_to_a_missing_permission_is_an_error(db, monkeypatch):
    from django.apps import apps

    config = apps.get_app_config("customers")
    monkeypatch.setattr(config, "role_permissions", {roles.CMO: {"customers.fly_customer"}})
    with pytest.raises(roles.UnknownPermissionError, match=r"customers\.fly_customer"):
        roles.roles_sync()

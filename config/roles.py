"""The roles people hold in a breach, as Django groups.

Each app declares what every role may do with its models in its AppConfig
(`role_permissions`: role name -> permission names "app_label.codename"); `roles_sync`
makes the groups hold exactly that. Approvals and sign-offs check these groups, never
`is_superuser`: superuser status is for break-glass access only.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.apps import apps
from django.db import transaction

if TYPE_CHECKING:
    from django.contrib.auth.models import Permission

# The role names import nothing from the ORM, so an AppConfig can name them in its grants.

CMO = "CMO"
CISO = "CISO"
DPO = "DPO"
LEGAL_REVIEWER = "Legal reviewer"
MARKETING_OPERATOR = "Marketing operator"
SECURITY_ANALYST = "Security analyst"
AUDITOR = "Auditor"
CALL_CENTRE_AGENT = "Call-centre agent"

ROLES = (
    CMO,
    CISO,
    DPO,
    LEGAL_REVIEWER,
    MARKETING_OPERATOR,
    SECURITY_ANALYST,
    AUDITOR,
    CALL_CENTRE_AGENT,
)


class UnknownPermissionError(LookupError):
    pass


def role_permission_names() -> dict[str, set[str]]:
    """Merge every installed app's declared grants, role by role."""
    grants: dict[str, set[str]] = {role: set() for role in ROLES}
    for app_config in apps.get_app_configs():
        for role, names in getattr(app_config, "role_permissions", {}).items():
            if role not in grants:
                raise UnknownPermissionError(f"{app_config.label} grants to unknown role {role!r}")
            grants[role].update(names)
    return grants


def _permissions(names: Iterable[str]) -> list["Permission"]:
    from django.contrib.auth.models import Permission

    wanted: set[tuple[str, str]] = set()
    for name in names:
        app_label, _, codename = name.partition(".")
        wanted.add((app_label, codename))
    found = list(
        Permission.objects.filter(
            content_type__app_label__in={app for app, _ in wanted},
            codename__in={codename for _, codename in wanted},
        ).select_related("content_type")
    )
    by_name = {(p.content_type.app_label, p.codename): p for p in found}
    missing = sorted(".".join(name) for name in wanted - by_name.keys())
    if missing:
        raise UnknownPermissionError(f"permissions do not exist: {', '.join(missing)}")
    return [by_name[name] for name in wanted]


@transaction.atomic
def roles_sync() -> dict[str, int]:
    """Create the role groups and give each exactly its declared permissions (idempotent)."""
    from django.contrib.auth.models import Group

    counts = {}
    for role, names in role_permission_names().items():
        group, _ = Group.objects.get_or_create(name=role)
        permissions = _permissions(names)
        group.permissions.set(permissions)
        counts[role] = len(permissions)
    return counts

"""The admin site, shaped by role: each person's sections come in the order their work
takes them through, so the CMO starts at campaigns and legal at breach messages."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config import roles
from config.admin_pii import PiiListRule

# Sections (app labels) in the order each role uses them; what a role may not see is
# already left out by its permissions, and sections not named here follow.
ROLE_SECTIONS = {
    roles.CMO: ["campaigns", "notifications", "incidents", "customers"],
    roles.CISO: ["incidents", "notifications", "campaigns", "customers"],
    roles.DPO: ["incidents", "notifications", "campaigns", "customers"],
    roles.LEGAL_REVIEWER: ["notifications", "incidents"],
    roles.MARKETING_OPERATOR: ["campaigns", "customers", "notifications", "incidents"],
    roles.SECURITY_ANALYST: ["incidents", "customers", "notifications", "campaigns"],
    roles.AUDITOR: ["incidents", "notifications", "campaigns", "customers"],
    # Agents see no section: their one page is linked from the dashboard.
    roles.CALL_CENTRE_AGENT: [],
}


def sections_for(role_names: set[str]) -> list[str]:
    """The section order of the first of the person's roles, in the order roles are listed."""
    for role in roles.ROLES:
        if role in role_names:
            return ROLE_SECTIONS[role]
    return []


class BreachdeskAdminSite(admin.AdminSite):
    site_header = "Breachdesk"
    site_title = "Breachdesk"
    index_title = "Breach response"

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Every admin follows the one PII rule: its list cannot be narrowed by contact data
        without view_pii, whoever wrote it and whether or not they thought of it."""
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, PiiListRule):
            admin_class = type(
                admin_class.__name__,
                (PiiListRule, admin_class),
                {"__module__": admin_class.__module__, "__doc__": admin_class.__doc__},
            )
        super().register(model_or_iterable, admin_class, **options)

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        app_list = super().get_app_list(request, app_label)
        user = request.user
        names = set(user.groups.values_list("name", flat=True)) if user.is_authenticated else set()
        order = sections_for(names)
        rank = {label: i for i, label in enumerate(order)}
        return sorted(app_list, key=lambda app: rank.get(app["app_label"], len(order)))

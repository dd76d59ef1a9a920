"""Every admin page, custom admin view and admin action against every role.

The tables below are written by hand from what each role is for; the roles' grants
(each app's AppConfig.role_permissions) must produce exactly them. A new ModelAdmin, a
new custom admin URL or a new action fails here until it is given a row, and the
meta-tests fail any action or custom view that declares no permission.
"""

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from config import roles
from config.admin_views import admin_view_permissions
from incidents.models import Obligation
from tests.conftest import kept_for_the_module

from .world import World, world_build

pytestmark = pytest.mark.django_db

CMO, CISO, DPO = roles.CMO, roles.CISO, roles.DPO
LEGAL, MO, SA, AUD = (
    roles.LEGAL_REVIEWER,
    roles.MARKETING_OPERATOR,
    roles.SECURITY_ANALYST,
    roles.AUDITOR,
)
AGENT = roles.CALL_CENTRE_AGENT
NO_ROLE = "no role"
EVERYONE = [*roles.ROLES, NO_ROLE]
NOBODY: frozenset[str] = frozenset()
# Call-centre agents open one page, the lookup by reference; "all roles" are the others.
ALL_ROLES = frozenset(roles.ROLES) - {AGENT}
CUSTOMER_READERS = frozenset({CMO, CISO, DPO, MO, SA, AUD})

# model: (who opens its list and its change pages, who opens its add page)
PAGES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    # Accounts, the task queue and sign-in records are for break-glass superusers only.
    "auth.Group": (NOBODY, NOBODY),
    "auth.User": (NOBODY, NOBODY),
    "django_q.Schedule": (NOBODY, NOBODY),
    "django_q.Success": (NOBODY, NOBODY),
    "django_q.Failure": (NOBODY, NOBODY),
    "django_q.OrmQ": (NOBODY, NOBODY),
    "axes.AccessAttempt": (NOBODY, NOBODY),
    "axes.AccessLog": (NOBODY, NOBODY),
    "axes.AccessFailureLog": (NOBODY, NOBODY),
    # Legal reviewers judge words, not people: no customer records.
    "customers.Customer": (CUSTOMER_READERS, NOBODY),
    "customers.ImportJob": (CUSTOMER_READERS, NOBODY),
    "customers.ImportMapping": (frozenset({MO, SA, AUD}), frozenset({MO, SA})),
    "customers.Segment": (CUSTOMER_READERS, frozenset({MO})),
    "customers.SourceRecord": (CUSTOMER_READERS, NOBODY),
    "customers.Touchpoint": (CUSTOMER_READERS, NOBODY),
    "customers.ImportRejection": (frozenset({MO, SA, AUD}), NOBODY),
    "customers.PiiAccess": (frozenset({DPO, AUD}), NOBODY),
    # Those who export, and auditors; the file itself goes only to its requester.
    "customers.CustomerExport": (frozenset({CMO, MO, AUD}), NOBODY),
    "customers.PlaceholderEmail": (frozenset({MO, SA, AUD}), frozenset({MO, SA})),
    "customers.SharedEmail": (frozenset({MO, SA, AUD}), NOBODY),
    "customers.SourcePriority": (frozenset({MO, SA, AUD}), frozenset({MO, SA})),
    # Deciding goes through the actions; the change pages are read-only.
    "customers.DuplicateCandidate": (frozenset({MO, SA, AUD}), NOBODY),
    "customers.CustomerMerge": (frozenset({MO, SA, AUD}), NOBODY),
    "incidents.Incident": (ALL_ROLES, frozenset({CISO, SA})),
    "incidents.Obligation": (ALL_ROLES, NOBODY),
    "incidents.Regime": (ALL_ROLES, frozenset({DPO})),
    "incidents.BusinessDayClosure": (ALL_ROLES, frozenset({DPO})),
    "incidents.Regulator": (ALL_ROLES, frozenset({DPO})),
    # One row, edited in place by the DPO; nobody adds a second.
    "config.CompanyProfile": (ALL_ROLES, NOBODY),
    "incidents.TimelineEvent": (ALL_ROLES, NOBODY),
    "incidents.AffectedCustomer": (ALL_ROLES, NOBODY),
    "incidents.Assessment": (ALL_ROLES, NOBODY),
    "incidents.ForensicList": (ALL_ROLES, NOBODY),
    "incidents.RegulatorNotice": (ALL_ROLES, frozenset({CISO, DPO})),
    "incidents.Filing": (ALL_ROLES, NOBODY),
    # The pack holds the whole record: for those who answer for it.
    "incidents.EvidencePack": (frozenset({CMO, CISO, DPO, AUD}), frozenset({CMO, CISO, DPO})),
    "campaigns.Campaign": (CUSTOMER_READERS, frozenset({CMO, MO})),
    "campaigns.CampaignHold": (CUSTOMER_READERS, NOBODY),
    "campaigns.CampaignSend": (frozenset({CMO, CISO, DPO, MO, AUD}), NOBODY),
    "campaigns.Withholding": (frozenset({CMO, CISO, DPO, MO, AUD}), NOBODY),
    "notifications.Communication": (ALL_ROLES, frozenset({MO, SA})),
    "notifications.MessageTemplate": (ALL_ROLES, frozenset({MO, SA})),
    "notifications.TemplateVersion": (ALL_ROLES, frozenset({MO, SA})),
    "notifications.Delivery": (ALL_ROLES, NOBODY),
    "notifications.Notification": (ALL_ROLES, NOBODY),
    "notifications.LetterBatch": (ALL_ROLES, NOBODY),
    # Codes come in through their import view, never one by one.
    "notifications.RemediationCode": (ALL_ROLES, NOBODY),
    # Readiness is answered for by the CMO, the CISO and the DPO, and read by the auditor.
    # The provider's reports arrive by webhook; the list is read-only, masked without view_pii.
    "notifications.DeliveryEvent": (ALL_ROLES, NOBODY),
    "readiness.ReadinessSnapshot": (frozenset({CMO, CISO, DPO, AUD}), NOBODY),
    "readiness.ContactGap": (frozenset({CMO, CISO, DPO, AUD}), NOBODY),
    # The CMO and the CISO keep the on-call rota; the DPO and the auditor read it.
    "readiness.OnCallShift": (frozenset({CMO, CISO, DPO, AUD}), frozenset({CMO, CISO})),
    # Returned letters come in through their import view; decisions and packs through
    # their own pages.
    "notifications.ReturnedLetter": (ALL_ROLES, NOBODY),
    "notifications.SubstituteNotice": (ALL_ROLES, NOBODY),
    "notifications.CallCentrePack": (ALL_ROLES, NOBODY),
    # Recovery plans are set up on their own page (the CMO's), never by the add form.
    "notifications.RecoveryPlan": (CUSTOMER_READERS, NOBODY),
}

# model: {action: who sees it offered on the list}; an action not named is offered to nobody.
ACTIONS: dict[str, dict[str, frozenset[str]]] = {
    "customers.ImportJob": {"cancel": frozenset({MO, SA}), "run_again": frozenset({MO, SA})},
    "customers.Segment": {"delete_selected": frozenset({MO})},
    "customers.PlaceholderEmail": {"delete_selected": frozenset({MO, SA})},
    "customers.SourcePriority": {"delete_selected": frozenset({MO, SA})},
    "readiness.OnCallShift": {"delete_selected": frozenset({CMO, CISO})},
    "customers.DuplicateCandidate": {
        "merge_keep_older": frozenset({MO, SA}),
        "dismiss": frozenset({MO, SA}),
    },
    "customers.CustomerMerge": {"unmerge": frozenset({MO, SA})},
    "incidents.Incident": {
        name: frozenset({CISO, SA})
        for name in ("start_assessing", "start_notifying", "mark_contained", "close")
    },
    "campaigns.Campaign": {
        "schedule": frozenset({CMO, MO}),
        "start": frozenset({CMO, MO}),
        "cancel": frozenset({CMO, MO}),
        "pause": frozenset({CMO, MO}),
        "resume": frozenset({CMO}),
        "resume_excluding_affected": frozenset({CMO}),
    },
    "campaigns.CampaignHold": {"release": frozenset({CMO})},
    "notifications.TemplateVersion": {"submit_for_review": frozenset({MO, SA})},
    "notifications.Delivery": {
        "pause": frozenset({CMO, CISO}),
        "resume": frozenset({CMO, CISO}),
        "letters_a4": frozenset({CMO, CISO, MO}),
        "letters_us": frozenset({CMO, CISO, MO}),
    },
    "notifications.LetterBatch": {"mark_posted": frozenset({CMO, CISO, MO})},
}


def _obligation(world: World) -> int:
    return Obligation.objects.filter(incident=world.incident).values_list("pk", flat=True)[0]


# custom admin URL name: (its arguments, who may open it)
CUSTOM_VIEWS: dict[str, tuple[Callable[[World], list[Any]], frozenset[str]]] = {
    "customers_customer_import": (lambda w: [], frozenset({MO, SA})),
    "customers_customer_import_preview": (lambda w: [w.preview_job.pk], frozenset({MO, SA})),
    "customers_customer_export": (lambda w: [], frozenset({CMO, MO})),
    "customers_customer_export_background": (lambda w: [], frozenset({CMO, MO})),
    # Those who decide on pairs may start a search for more.
    "customers_duplicatecandidate_search": (lambda w: [], frozenset({MO, SA})),
    # Still waiting: those allowed are sent back to its page (the owner rule is tested in
    # tests/customers/test_background_export.py).
    "customers_customerexport_download": (
        lambda w: [w.customer_export.pk],
        frozenset({CMO, MO}),
    ),
    "customers_importjob_errors": (
        lambda w: [w.import_job.pk],
        CUSTOMER_READERS,
    ),
    "incidents_incident_scope": (lambda w: [w.incident.pk], frozenset({CISO, SA})),
    "incidents_incident_assess": (lambda w: [w.incident.pk], frozenset({CISO, SA})),
    "incidents_incident_decide": (lambda w: [w.incident.pk], frozenset({CISO, DPO})),
    "incidents_incident_transition": (
        lambda w: [w.incident.pk, "mark_contained"],
        frozenset({CISO, SA}),
    ),
    "incidents_incident_drill": (lambda w: [w.incident.pk], frozenset({CISO, CMO})),
    "incidents_incident_clock": (lambda w: [w.incident.pk], frozenset({CISO, DPO})),
    "incidents_obligation_meet": (lambda w: [_obligation(w)], frozenset({CISO, DPO})),
    "incidents_obligation_not_required": (lambda w: [_obligation(w)], frozenset({CISO, DPO})),
    "incidents_obligation_pause": (lambda w: [_obligation(w)], frozenset({CISO, DPO})),
    "campaigns_campaign_overlap": (lambda w: [w.incident.pk], CUSTOMER_READERS),
    "notifications_communication_sign": (lambda w: [w.communication.pk], frozenset({CMO, CISO})),
    "notifications_templateversion_review": (lambda w: [w.submitted.pk], frozenset({LEGAL})),
    "notifications_templateversion_submit": (lambda w: [w.draft.pk], frozenset({MO, SA})),
    "notifications_templateversion_new_version": (lambda w: [w.draft.pk], frozenset({MO, SA})),
    "incidents_regulatornotice_pdf": (lambda w: [w.notice.pk], ALL_ROLES),
    "incidents_regulatornotice_file": (lambda w: [w.notice.pk], frozenset({CISO, DPO})),
    "incidents_regulatornotice_edit": (lambda w: [w.notice.pk], frozenset({CISO, DPO})),
    # The pack is still queued: those allowed are sent back to its page with the reason.
    "incidents_evidencepack_download": (lambda w: [w.pack.pk], frozenset({CMO, CISO, DPO, AUD})),
    "notifications_delivery_send": (lambda w: [w.communication.pk], frozenset({CMO, CISO})),
    "notifications_delivery_bounces": (lambda w: [], frozenset({CMO, CISO, MO})),
    # Letters carry postal addresses in full: only for those holding view_pii.
    "notifications_letterbatch_file": (
        lambda w: [w.letter_batch.pk, "pdf"],
        frozenset({DPO, MO, SA}),
    ),
    "notifications_remediationcode_import": (
        lambda w: [w.incident.pk],
        frozenset({CMO, CISO, MO}),
    ),
    "readiness_page": (lambda w: [], frozenset({CMO, CISO, DPO, AUD})),
    "readiness_board_pdf": (lambda w: [], frozenset({CMO, CISO, DPO, AUD})),
    # A GET recounts nothing and goes back to the page; the button posts.
    "readiness_recount": (lambda w: [], frozenset({CMO, CISO, DPO, AUD})),
    "notifications_returnedletter_import": (lambda w: [], frozenset({CMO, CISO, MO})),
    "notifications_substitutenotice_decide": (lambda w: [w.incident.pk], frozenset({DPO})),
    "notifications_substitutenotice_sign_off": (
        lambda w: [w.incident.pk],
        frozenset({CMO, CISO}),
    ),
    "notifications_callcentrepack_make": (
        lambda w: [w.communication.pk],
        frozenset({CMO, CISO, MO, SA}),
    ),
    "notifications_callcentrepack_export": (lambda w: [w.call_centre_pack.pk, "csv"], ALL_ROLES),
    "notifications_recoveryplan_setup": (lambda w: [], frozenset({CMO})),
    "notifications_recoveryplan_add_step": (lambda w: [w.recovery_plan.pk], frozenset({CMO})),
    "notifications_recoveryplan_consent": (lambda w: [w.recovery_plan.pk], frozenset({CISO})),
    "notifications_recoveryplan_stop": (lambda w: [w.recovery_plan.pk], frozenset({CMO, CISO})),
    "notifications_recoveryplan_report": (lambda w: [w.recovery_plan.pk], CUSTOMER_READERS),
    "notifications_recoveryplan_refresh": (lambda w: [w.recovery_plan.pk], CUSTOMER_READERS),
    # Responses come from marketing's vendors and security's identity system.
    "notifications_recoveryplan_redemptions": (lambda w: [], frozenset({CMO, CISO, MO, SA})),
    "notifications_recoveryplan_resets": (lambda w: [], frozenset({CMO, CISO, MO, SA})),
    # The agent's one page: a reference in, that person's notices out.
    "notifications_notification_lookup": (lambda w: [], frozenset({AGENT})),
}
# Views that answer an allowed user with a redirect rather than a page.
REDIRECTS = {
    "incidents_evidencepack_download",
    "customers_customerexport_download",
    "readiness_recount",
}

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
APPS = ("customers", "incidents", "campaigns", "notifications")
STANDARD_SUFFIXES = ("_changelist", "_add", "_change", "_delete", "_history")


def _label(model: Any) -> str:
    return str(model._meta.label)


def _url(model: Any, view: str, *args: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker) -> Iterator[World]:
    with kept_for_the_module(django_db_blocker):
        yield world_build()


@pytest.fixture
def login(client):
    """Staff users of each role, made once per test (no password: hashing is slow)."""
    users: dict[str, Any] = {}

    def as_role(role: str) -> Any:
        if role not in users:
            user = get_user_model().objects.create(
                username=role.lower().replace(" ", "-"), is_staff=True
            )
            user.groups.set(Group.objects.filter(name=role))
            users[role] = user
        client.force_login(users[role])
        return client

    return as_role


def test_every_registered_model_has_a_row_in_the_matrix():
    assert sorted(_label(m) for m in admin.site._registry) == sorted(PAGES)


def custom_urls(model_admin: Any) -> list[Any]:
    return [
        p
        for p in model_admin.get_urls()
        if p.name and not p.name.endswith(STANDARD_SUFFIXES) and p.name != "autocomplete"
    ]


def test_every_custom_admin_url_has_a_row_in_the_matrix():
    names = {p.name for a in admin.site._registry.values() for p in custom_urls(a)}
    assert names == set(CUSTOM_VIEWS)


@pytest.mark.parametrize("label", sorted(PAGES))
def test_admin_pages_open_exactly_for_the_roles_in_the_matrix(login, world, label):
    model = next(m for m in admin.site._registry if _label(m) == label)
    readers, adders = PAGES[label]
    obj = model._default_manager.order_by("pk").first()
    # A filing needs a filed notice's PDF; its list and add page are still checked.
    if label != "incidents.Filing" and model._meta.app_label in APPS:
        assert obj is not None, f"the world has no {label} to open"
    for role in EVERYONE:
        client = login(role)
        seen = {
            "list": client.get(_url(model, "changelist")).status_code,
            "add": client.get(_url(model, "add")).status_code,
        }
        if obj is not None:
            seen["change"] = client.get(_url(model, "change", obj.pk)).status_code
            seen["history"] = client.get(_url(model, "history", obj.pk)).status_code
        expected = {
            view: 200 if role in (adders if view == "add" else readers) else 403 for view in seen
        }
        assert seen == expected, (role, seen)


@pytest.mark.parametrize("label", sorted(PAGES))
def test_actions_are_offered_exactly_to_the_roles_in_the_matrix(login, world, label):
    model = next(m for m in admin.site._registry if _label(m) == label)
    declared = ACTIONS.get(label, {})
    for role in EVERYONE:
        response = login(role).get(_url(model, "changelist"))
        offered: set[str] = set()
        if response.status_code == 200 and response.context.get("action_form"):
            offered = {c for c, _ in response.context["action_form"].fields["action"].choices if c}
        assert offered == {a for a, who in declared.items() if role in who}, role


@pytest.mark.parametrize("name", sorted(CUSTOM_VIEWS))
def test_custom_admin_views_open_exactly_for_the_roles_in_the_matrix(login, world, name):
    arguments, allowed = CUSTOM_VIEWS[name]
    url = reverse(f"admin:{name}", args=arguments(world))
    for role in EVERYONE:
        response = login(role).get(url)
        ok = 302 if name in REDIRECTS else 200
        assert response.status_code == (ok if role in allowed else 403), role
        # Allowed or refused, a custom view's response carries the security headers.
        assert {h: response.get(h) for h in SECURITY_HEADERS} == SECURITY_HEADERS, role


# --- Meta-tests: what a new action or custom view must declare -------------------------


def _permission_exists(model_admin: Any, name: str) -> bool:
    if "." in name:
        app_label, codename = name.split(".", 1)
        return Permission.objects.filter(
            content_type__app_label=app_label, codename=codename
        ).exists()
    return callable(getattr(model_admin, f"has_{name}_permission", None))


def _wrapped_code(view: Any) -> list[str]:
    """Qualified names of every function a URL's callback wraps (decorators and closures)."""
    names, queue, seen = [], [view], set()
    while queue:
        func = queue.pop()
        func = getattr(func, "__func__", func)
        if id(func) in seen or not callable(func):
            continue
        seen.add(id(func))
        code = getattr(func, "__code__", None)
        names.append(code.co_qualname if code else "")
        queue.extend(filter(None, [getattr(func, "__wrapped__", None)]))
        queue.extend(cell.cell_contents for cell in getattr(func, "__closure__", None) or ())
    return names


def undeclared(model_admin: Any) -> list[str]:
    """Actions and custom views of one ModelAdmin that check no declared permission."""
    problems = []
    for func, name, _ in model_admin._get_base_actions():
        permissions = getattr(func, "allowed_permissions", None)
        if not permissions:
            problems.append(f"action {name} declares no permissions")
        for permission in permissions or ():
            if not _permission_exists(model_admin, permission):
                problems.append(f"action {name}: no permission {permission!r}")
    for pattern in custom_urls(model_admin):
        chain = _wrapped_code(pattern.callback)
        if not any(q.startswith("AdminSite.admin_view") for q in chain):
            problems.append(f"view {pattern.name} is not wrapped by admin_site.admin_view")
        permissions = getattr(pattern.callback, "allowed_permissions", None)
        if not permissions or not any("admin_view_permissions" in q for q in chain):
            problems.append(f"view {pattern.name} is not guarded by @admin_view_permissions")
        for permission in permissions or ():
            if not _permission_exists(model_admin, permission):
                problems.append(f"view {pattern.name}: no permission {permission!r}")
    return problems


@pytest.mark.parametrize("label", sorted(PAGES))
def test_every_action_and_custom_view_declares_an_existing_permission(label):
    model = next(m for m in admin.site._registry if _label(m) == label)
    assert undeclared(admin.site._registry[model]) == []


def test_the_meta_test_catches_an_undeclared_action_and_an_unguarded_view():
    from django.urls import path

    from customers.models import Segment

    def shout(model_admin, request, queryset):
        pass

    class Careless(admin.ModelAdmin):
        actions = [shout]

        def get_urls(self):
            return [
                path("bare/", self.bare, name="bare"),
                path("wrapped/", self.admin_site.admin_view(self.bare), name="wrapped"),
                path("guarded/", self.guarded, name="guarded"),
                path("typo/", self.admin_site.admin_view(self.typo), name="typo"),
                *super().get_urls(),
            ]

        def bare(self, request):
            pass

        @admin_view_permissions("customers.view_segment")
        def guarded(self, request):
            pass

        @admin_view_permissions("launch")
        def typo(self, request):
            pass

    problems = undeclared(Careless(Segment, admin.site))

    assert problems == [
        "action shout declares no permissions",
        "view bare is not wrapped by admin_site.admin_view",
        "view bare is not guarded by @admin_view_permissions",
        "view wrapped is not guarded by @admin_view_permissions",
        "view guarded is not wrapped by admin_site.admin_view",
        "view typo: no permission 'launch'",
    ]

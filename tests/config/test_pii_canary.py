"""A unique email seeded through the import never reaches someone without view_pii.

The canary customer is imported, scoped into an incident (and a second canary email
sits unmatched in its forensic list), mailed by a campaign and edited in the admin
(history). Then every role without customers.view_pii, and a user with no role, walks
every admin page reachable from the index, searches every list for the email, asks
every autocomplete for it and exports the customers (at once and in the background,
down to the stored file and its download); an error report about a request
carrying the email is mailed to ADMINS. The email, its local part, the phone and the
street appear nowhere; the masked form does where the record is shown.
"""

import html
import logging
import re
from urllib.parse import urlsplit

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import RequestFactory
from django.urls import reverse

from config import roles
from customers.models import Customer, CustomerExport, PiiAccess
from customers.services import customer_export_build
from notifications.models import Communication, Notification, reference_display

from .canary import Canary
from .world import world_build

pytestmark = pytest.mark.django_db

WITHOUT_PII = [
    roles.CMO,
    roles.CISO,
    roles.LEGAL_REVIEWER,
    roles.AUDITOR,
    roles.CALL_CENTRE_AGENT,
    None,
]
WITH_PII = [roles.MARKETING_OPERATOR, roles.SECURITY_ANALYST, roles.DPO]
PAGE_LIMIT = 1000
HREF = re.compile(r'href="(/[^"#]*)"')
# Links that end the session or are the same page with another order or filter.
RESULTS = re.compile(r'<table id="result_list".*?</table>', re.DOTALL)
# Links in the results (sorting, back to the list) carry the search: the user's own term.
FILTERS = re.compile(r"(?:_changelist_filters|\bq)=[^\"&]*")
SKIP = ("/logout/", "/static/", "/password/", "/jsi18n/")
# The jurisdiction matrix ships with the product and names no person: a few of its 150-odd
# regimes and 50-odd regulators (each a change and a history page) stand for the others.
REFERENCE_DATA = re.compile(r"^/incidents/(regime|regulator)/\d+/")
REFERENCE_PAGES = 6


@pytest.fixture
def canary(mailoutbox) -> Canary:
    # Imported, mailed by a campaign, scoped (and a second email unmatched in the forensic
    # list), in the notification ledger with an SMTP refusal quoting it.
    canary = world_build().canary
    assert canary.email in [m.to[0] for m in mailoutbox]
    # A break-glass edit of the record, as the admin logs it: history must not leak it.
    superuser = get_user_model().objects.create_superuser("breakglass", password="x" * 20)
    request = RequestFactory().post("/")
    request.user = superuser
    admin.site._registry[Customer].log_change(
        request, canary.customer, [{"changed": {"fields": ["Email", "Phone"]}}]
    )
    return canary


def _user(make_user, role: str | None):
    name = (role or "no-role").lower().replace(" ", "-")
    return make_user(name, *([role] if role else []))


def crawl(client, start: str) -> dict[str, str]:
    """Every admin page reachable from `start` by plain links (query strings dropped), of
    the jurisdiction matrix only the first few."""
    pages: dict[str, str] = {}
    queue, seen = [start], {start}
    reference = 0
    while queue and len(seen) < PAGE_LIMIT:
        url = queue.pop(0)
        response = client.get(url)
        if response.status_code != 200 or response.streaming:
            continue
        body = response.content.decode("utf-8", "replace")
        pages[url] = body
        for href in HREF.findall(body):
            path = urlsplit(html.unescape(href)).path
            if path in seen or any(part in path for part in SKIP):
                continue
            seen.add(path)
            if REFERENCE_DATA.match(path):
                reference += 1
                if reference > REFERENCE_PAGES:
                    continue
            queue.append(path)
    return pages


@pytest.mark.parametrize("role", WITHOUT_PII, ids=lambda r: r or "no role")
def test_canary_never_reaches_a_user_without_view_pii(
    client, make_user, canary, role, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    user = _user(make_user, role)
    client.force_login(user)
    found: dict[str, list[str]] = {}

    pages = crawl(client, reverse("admin:index"))
    for url, body in pages.items():
        if leaks := canary.leaks(body):
            found[url] = leaks

    for model, model_admin in admin.site._registry.items():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        for term in (canary.email, canary.email.split("@")[0][:10], "Finch", "7700900417"):
            response = client.get(changelist, {"q": term})
            # The results, not the search box echoing what the user typed.
            results = RESULTS.search(response.content.decode())
            shown = FILTERS.sub("", results.group(0)) if results else ""
            if leaks := canary.leaks(shown):
                found[f"{changelist}?q={term}"] = leaks
        for field in model_admin.autocomplete_fields:
            response = client.get(
                reverse("admin:autocomplete"),
                {
                    "app_label": model._meta.app_label,
                    "model_name": model._meta.model_name,
                    "field_name": field,
                    "term": canary.email[:12],
                },
            )
            if leaks := canary.leaks(response.content.decode()):
                found[f"autocomplete {model._meta.label}.{field}"] = leaks

    # The canary's own breach notice, previewed by customer id on the communication page.
    (communication,) = Communication.objects.all()
    preview = client.get(
        reverse("admin:notifications_communication_change", args=[communication.pk]),
        {"preview": canary.customer.pk},
    )
    if preview.status_code == 200:
        assert "Dear " in preview.content.decode()
        found.update(
            {"preview": leaks} if (leaks := canary.leaks(preview.content.decode())) else {}
        )

    export = client.post(
        reverse("admin:customers_customer_export"),
        {"format": "0", "resource": "0"}
        | {f"customerexportresource_{f}": "on" for f in ("email", "phone", "street", "city")},
    )
    if export.status_code == 200:
        text = export.content.decode("utf-8-sig")
        found.update({"export": leaks} if (leaks := canary.leaks(text)) else {})
        assert "c***@c***.org" in text.lower() and "+44 ***** **17" in text

    # The background export, built as the task cluster would, then its page and file.
    background = client.post(
        reverse("admin:customers_customer_export_background"),
        {"columns": ["id", "email", "phone", "street", "postal_code", "city"]},
    )
    if user.has_perm("customers.export_customer"):
        export = customer_export_build(export_id=CustomerExport.objects.get(requested_by=user).pk)
        assert export.status == CustomerExport.Status.READY, export.error
        with export.file.open("rb") as stored:
            text = stored.read().decode("utf-8-sig")
        found.update({"background export": leaks} if (leaks := canary.leaks(text)) else {})
        assert "c***@c***.org" in text.lower() and "+44 ***** **17" in text
        page = client.get(reverse("admin:customers_customerexport_change", args=[export.pk]))
        download = client.get(reverse("admin:customers_customerexport_download", args=[export.pk]))
        body = b"".join(download.streaming_content).decode("utf-8-sig")
        for where, shown in (("export page", page.content.decode()), ("download", body)):
            found.update({where: leaks} if (leaks := canary.leaks(shown)) else {})
    else:
        assert background.status_code == 403
        assert not CustomerExport.objects.filter(requested_by=user).exists()

    assert found == {}
    # The walk really reached the record where the role may read customers.
    customer_page = reverse("admin:customers_customer_change", args=[canary.customer.pk])
    if user.has_perm("customers.view_customer"):
        assert "c***@c***.org" in pages[customer_page].lower()
        history = reverse("admin:customers_customer_history", args=[canary.customer.pk])
        assert "Changed Email and Phone." in pages[history]
    else:
        assert customer_page not in pages
    # The task queue's admin (arguments, results, errors) is for nobody in a role.
    for name in ("success", "failure", "ormq", "schedule"):
        assert client.get(reverse(f"admin:django_q_{name}_changelist")).status_code == 403
    assert not PiiAccess.objects.filter(user=user).exists()


def test_an_agent_looking_the_canary_up_by_reference_sees_no_contact_data(
    client, make_user, canary
):
    agent = _user(make_user, roles.CALL_CENTRE_AGENT)
    client.force_login(agent)
    reference = Notification.objects.get(customer=canary.customer).reference

    page = client.post(reverse("admin:notifications_notification_lookup"), {"reference": reference})

    body = page.content.decode()
    assert "Breach notice" in body and reference_display(reference) in body
    assert canary.leaks(body) == []
    # Each lookup is logged as an access to that person's record.
    access = PiiAccess.objects.get(user=agent)
    assert access.customer == canary.customer


@pytest.mark.parametrize("role", WITH_PII)
def test_a_role_with_view_pii_sees_the_record_in_full_and_the_opening_is_logged(
    client, make_user, canary, role
):
    user = _user(make_user, role)
    client.force_login(user)

    page = client.get(reverse("admin:customers_customer_change", args=[canary.customer.pk]))

    assert canary.email in page.content.decode()
    access = PiiAccess.objects.get(user=user)
    assert (access.customer, access.kind) == (canary.customer, PiiAccess.Kind.RECORD)


def test_error_email_masks_the_canary_and_carries_no_html_report(canary, settings):
    settings.DEBUG = False
    settings.ADMINS = [("Ops", "ops@breachdesk.example")]
    request = RequestFactory().post(
        f"/customers/customer/?q={canary.email}", {"email": canary.email, "phone": canary.phone}
    )
    try:
        raise ValueError(f"duplicate key (email_normalized)=({canary.email.lower()})")
    except ValueError:
        logging.getLogger("django.request").error(
            "Internal Server Error: %s",
            request.path,
            exc_info=True,
            extra={"status_code": 500, "request": request},
        )

    (report,) = [m for m in mail.outbox if m.to == ["ops@breachdesk.example"]]
    assert canary.leaks(f"{report.subject}\n{report.body}") == []
    assert "ValueError" in report.body and "c***@c***.org" in report.body
    assert not getattr(report, "alternatives", [])

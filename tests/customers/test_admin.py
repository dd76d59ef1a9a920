"""The customer admin, used by people in their roles (never a superuser)."""

import datetime

import pytest
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from django_q.models import OrmQ

from config import roles
from customers.models import Customer, ImportJob, PiiAccess
from incidents.models import AffectedCustomer, Incident

from .conftest import SAMPLES, import_sample
from .factories import (
    CustomerFactory,
    ImportMappingFactory,
    SegmentFactory,
    SegmentMembershipFactory,
    SourceRecordFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def marketing(client, make_user):
    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    return client


def as_role(client, make_user, role):
    client.force_login(make_user(role.lower().replace(" ", "_"), role))
    return client


def test_customer_changelist_renders_with_filters(marketing):
    CustomerFactory.create_batch(3)
    segment = SegmentFactory(name="VIP")
    response = marketing.get(reverse("admin:customers_customer_changelist"))
    assert response.status_code == 200
    assert b"VIP" in response.content and b"email status" in response.content.lower()
    assert segment.name in response.content.decode()


def test_customer_changelist_does_not_count_everything(marketing, django_assert_max_num_queries):
    CustomerFactory.create_batch(5)
    with django_assert_max_num_queries(12):
        response = marketing.get(reverse("admin:customers_customer_changelist"))
    assert response.context["cl"].show_full_result_count is False


@pytest.mark.parametrize(
    ("query", "expected"),
    [("ann.lee@example.com", ["Ann"]), ("ANN.L", ["Ann"]), ("003X", ["Bo"]), ("lind", ["Cy"])],
)
def test_customer_search_by_email_prefix_external_id_and_name(marketing, query, expected):
    CustomerFactory(first_name="Ann", last_name="Lee", email="Ann.Lee@example.com")
    bo = CustomerFactory(first_name="Bo", last_name="Ek", email="bo@example.com")
    SourceRecordFactory(customer=bo, external_id="003X")
    CustomerFactory(first_name="Cy", last_name="Lindqvist", email="cy@example.com")

    response = marketing.get(reverse("admin:customers_customer_changelist"), {"q": query})
    assert [c.first_name for c in response.context["cl"].result_list] == expected


@pytest.mark.parametrize("query", ["ann.lee@example.com", "ann.l"])
def test_without_view_pii_an_email_search_tells_nothing(client, make_user, query):
    CustomerFactory(first_name="Ann", last_name="Lee", email="Ann.Lee@example.com")
    cmo = as_role(client, make_user, roles.CMO)
    response = cmo.get(reverse("admin:customers_customer_changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == []


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"country": "FR"}, ["Ann"]),
        ({"country": "?"}, ["Cy"]),
        ({"email_status__exact": "bounced"}, ["Bo"]),
        ({"marketing_consent__exact": "withdrawn"}, ["Cy"]),
    ],
)
def test_customer_filters(marketing, params, expected):
    CustomerFactory(first_name="Ann", country="FR")
    CustomerFactory(first_name="Bo", email_status=Customer.EmailStatus.BOUNCED)
    CustomerFactory(
        first_name="Cy", country="", country_raw="Atlantis", marketing_consent="withdrawn"
    )
    response = marketing.get(reverse("admin:customers_customer_changelist"), params)
    assert [c.first_name for c in response.context["cl"].result_list] == expected


def test_customer_segment_filter(marketing):
    membership = SegmentMembershipFactory.create()
    CustomerFactory()
    response = marketing.get(
        reverse("admin:customers_customer_changelist"), {"segment": membership.segment_id}
    )
    assert list(response.context["cl"].result_list) == [membership.customer]


def test_customer_page_shows_sources_segments_timeline_and_incidents(marketing):
    customer = CustomerFactory.create()
    SourceRecordFactory(customer=customer, source="hubspot", external_id="100007")
    SegmentMembershipFactory(customer=customer, segment__name="Newsletter DE")
    TouchpointFactory(
        customer=customer,
        occurred_at=timezone.now() - datetime.timedelta(days=2),
        reference="spring-sale",
    )
    incident = Incident.objects.create(
        title="Shop database leak", nature="SQL injection", awareness_at=timezone.now()
    )
    AffectedCustomer.objects.create(
        incident=incident, customer=customer, data_categories=["contact"], found_by="segment"
    )

    response = marketing.get(reverse("admin:customers_customer_change", args=[customer.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    shown = ("100007", "Newsletter DE", "spring-sale", "Promotional message", "Shop database leak")
    for text in shown:
        assert text in body


def test_customer_add_page_needs_the_add_permission(client, make_user):
    user = make_user("mo", roles.MARKETING_OPERATOR)
    client.force_login(user)
    assert client.get(reverse("admin:customers_customer_add")).status_code == 403
    user.user_permissions.add(Permission.objects.get(codename="add_customer"))
    assert client.get(reverse("admin:customers_customer_add")).status_code == 200


def test_customer_added_by_hand_is_normalised(client, make_user):
    user = make_user("mo", roles.MARKETING_OPERATOR)
    user.user_permissions.add(Permission.objects.get(codename="add_customer"))
    client.force_login(user)
    response = client.post(
        reverse("admin:customers_customer_add"),
        {
            "first_name": "Ann",
            "email": " Ann@Example.com ",
            "email_status": "valid",
            "phone": "030 1234567",
            "country": "DE",
            "marketing_consent": "unknown",
            "sources-TOTAL_FORMS": 0,
            "sources-INITIAL_FORMS": 0,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302, response.content
    ann = Customer.objects.get()
    assert (ann.email_normalized, ann.phone) == ("ann@example.com", "+49301234567")


def test_legal_reviewer_sees_no_customers(client, make_user):
    as_role(client, make_user, roles.LEGAL_REVIEWER)
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 403


@pytest.mark.parametrize(
    ("url", "role"),
    [
        ("admin:customers_segment_changelist", roles.MARKETING_OPERATOR),
        ("admin:customers_segment_add", roles.MARKETING_OPERATOR),
        ("admin:customers_sourcerecord_changelist", roles.SECURITY_ANALYST),
        ("admin:customers_touchpoint_changelist", roles.AUDITOR),
        ("admin:customers_importjob_changelist", roles.CMO),
        ("admin:customers_importmapping_changelist", roles.MARKETING_OPERATOR),
        ("admin:customers_importmapping_add", roles.MARKETING_OPERATOR),
        ("admin:customers_importrejection_changelist", roles.AUDITOR),
    ],
)
def test_other_admin_pages_render_for_their_roles(client, make_user, url, role):
    SegmentMembershipFactory()
    TouchpointFactory()
    import_sample("shop_kunden.csv")
    as_role(client, make_user, role)
    response = client.get(reverse(url), {"q": "x"} if url.endswith("changelist") else {})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("model", "factory"),
    [
        ("segment", SegmentFactory),
        ("sourcerecord", SourceRecordFactory),
        ("touchpoint", TouchpointFactory),
        ("importmapping", ImportMappingFactory),
    ],
)
def test_change_pages_render_for_the_auditor(client, make_user, model, factory):
    obj = factory()
    as_role(client, make_user, roles.AUDITOR)
    response = client.get(reverse(f"admin:customers_{model}_change", args=[obj.pk]))
    assert response.status_code == 200


def test_mapping_with_unknown_field_is_refused_in_the_admin(marketing):
    response = marketing.post(
        reverse("admin:customers_importmapping_add"),
        {"name": "shop", "source": "webshop", "columns": '{"shoe": "Schuh"}'},
    )
    assert response.status_code == 200
    assert "Unknown fields: shoe" in response.content.decode()


def test_import_job_page_shows_progress_and_error_report(client, make_user):
    job = import_sample("shop_kunden.csv")
    as_role(client, make_user, roles.SECURITY_ANALYST)
    page = client.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert page.status_code == 200
    assert b"<progress" in page.content and b"2 rejected rows" in page.content

    report = client.get(reverse("admin:customers_importjob_errors", args=[job.pk]))
    lines = b"".join(report.streaming_content).decode().splitlines()
    assert lines[0] == "row,line,field,reason,value"
    assert lines[1].startswith("1,2,external_id,neither an external id nor an email")
    assert PiiAccess.objects.filter(detail__contains="error report").count() == 1


def test_running_job_page_refreshes_itself(client, make_user):
    job = import_sample("zoho_contacts.csv")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING, progress=40)
    as_role(client, make_user, roles.CISO)
    page = client.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert b'http-equiv="refresh"' in page.content and b'value="40"' in page.content


def test_cancel_action_needs_the_import_permission(client, make_user):
    job = import_sample("zoho_contacts.csv")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    url = reverse("admin:customers_importjob_changelist")
    data = {"action": "cancel", "_selected_action": [job.pk]}

    as_role(client, make_user, roles.CISO)
    client.post(url, data)
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.RUNNING

    as_role(client, make_user, roles.MARKETING_OPERATOR)
    client.post(url, data)
    assert ImportJob.objects.get(pk=job.pk).status == ImportJob.Status.CANCEL_REQUESTED


def _upload(name: str = "salesforce_contacts.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (SAMPLES / name).read_bytes())


def test_small_upload_is_previewed_then_imported_on_confirm(marketing):
    response = marketing.post(
        reverse("admin:customers_customer_import"), {"file": _upload(), "source": "salesforce"}
    )
    preview = ImportJob.objects.get()
    assert response.url == reverse("admin:customers_customer_import_preview", args=[preview.pk])
    page = marketing.get(response.url)
    assert b"Nothing has been written yet" in page.content and b"<td>30</td>" in page.content
    assert not Customer.objects.exists()

    confirmed = marketing.post(response.url, follow=True)
    assert Customer.objects.count() == 30
    assert b"30 created" in confirmed.content


def test_preview_of_a_refused_file_says_why(marketing):
    response = marketing.post(
        reverse("admin:customers_customer_import"),
        {"file": _upload("shop_kunden.csv"), "source": "webshop"},
        follow=True,
    )
    assert b"Kundennummer" in response.content and b"cannot be imported" in response.content


def test_large_upload_runs_in_the_background_enqueued_on_commit(
    marketing, settings, django_capture_on_commit_callbacks
):
    settings.CUSTOMERS_IMPORT_PREVIEW_MAX_KB = 1
    with django_capture_on_commit_callbacks(execute=True):
        response = marketing.post(
            reverse("admin:customers_customer_import"), {"file": _upload(), "source": "sf"}
        )
    job = ImportJob.objects.get()
    assert response.url == reverse("admin:customers_importjob_change", args=[job.pk])
    assert job.status == ImportJob.Status.PENDING and not job.dry_run
    assert OrmQ.objects.count() == 1


def test_over_size_upload_is_refused_with_a_clear_message(marketing, settings):
    settings.CUSTOMERS_IMPORT_MAX_UPLOAD_MB = 0
    response = marketing.post(
        reverse("admin:customers_customer_import"), {"file": _upload(), "source": "sf"}
    )
    assert response.status_code == 200
    assert "uploads are limited to 0 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_import_screen_needs_the_import_permission(client, make_user):
    as_role(client, make_user, roles.CMO)
    assert client.get(reverse("admin:customers_customer_import")).status_code == 403
    changelist = client.get(reverse("admin:customers_customer_changelist"))
    assert b"Import customers" not in changelist.content

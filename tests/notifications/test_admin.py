import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from config import roles
from customers.models import Customer
from incidents.models import TimelineEvent
from notifications import services
from notifications.models import Communication, CommunicationSignOff, TemplateVersion
from notifications.selectors import communication_content_hash

from .delivery_helpers import drafted
from .factories import (
    AffectedCustomerFactory,
    CustomerFactory,
    IncidentFactory,
    MessageTemplateFactory,
    TemplateVersionFactory,
    affected,
    approved,
    bodies_for,
    window,
)

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def url(name, *args, query=""):
    return reverse(f"admin:notifications_{name}", args=args) + query


@pytest.mark.parametrize(
    "role",
    [roles.AUDITOR, roles.DPO, roles.LEGAL_REVIEWER, roles.CMO, roles.MARKETING_OPERATOR],
)
@pytest.mark.parametrize("model", ["messagetemplate", "templateversion", "communication"])
def test_changelists_and_search_render_for_every_role_that_views(client, make_user, role, model):
    version = TemplateVersionFactory.create(approved=True)
    services.communication_create(
        incident_id=version.template.incident_id,
        actor=None,
        name="Findable notice",
        channels=["email"],
        fallback_language="en",
        version_ids=[version.pk],
        **window(),
    )
    login(client, make_user("someone", role))
    response = client.get(url(f"{model}_changelist"))
    assert response.status_code == 200
    assert client.get(url(f"{model}_changelist", query="?q=Findable")).status_code == 200


@pytest.mark.parametrize("model", ["messagetemplate", "templateversion", "communication"])
def test_changelist_queries_do_not_grow_with_rows(client, make_user, model):
    login(client, make_user("auditor", roles.AUDITOR))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url(f"{model}_changelist")).status_code == 200
        return len(captured)

    def add_rows():
        incident = IncidentFactory.create()
        versions = [
            TemplateVersionFactory.create(
                template=MessageTemplateFactory.create(incident=incident),
                approved=True,
                language=lang,
            )
            for lang in ("en", "de")
        ]
        services.communication_create(
            incident_id=incident.pk,
            actor=None,
            name=f"Notice {incident.pk}",
            channels=["email"],
            fallback_language="en",
            version_ids=[v.pk for v in versions],
            **window(),
        )

    add_rows()
    few = queries()
    for _ in range(4):
        add_rows()
    assert queries() == few


def test_nobody_without_a_role_permission_sees_breach_messages(client, make_user):
    login(client, make_user("nobody"))
    assert client.get(url("templateversion_changelist")).status_code == 403


def test_a_marketing_operator_writes_a_template_and_its_first_version(client, marketing):
    incident = IncidentFactory.create()
    login(client, marketing)
    assert client.get(url("messagetemplate_add")).status_code == 200
    response = client.post(
        url("messagetemplate_add"), {"incident": incident.pk, "name": "Passwords"}
    )
    assert response.status_code == 302
    template = incident.message_templates.get()
    add = url("templateversion_add", query=f"?template={template.pk}")
    assert response["Location"] == add
    assert client.get(add).status_code == 200
    fields = {
        "template": template.pk,
        "channel": "email",
        "language": "en",
        "data_categories": ["credentials"],
        "subject": "About your password",
        **bodies_for(["credentials"]),
    }
    response = client.post(url("templateversion_add"), fields)
    assert response.status_code == 302, response.content.decode()[:3000]
    version = template.versions.get()
    assert (version.number, version.status, version.created_by) == (1, "draft", marketing)
    assert TimelineEvent.objects.filter(incident=incident, kind="template_version.created").exists()
    # A draft changes in place from its change page.
    change = url("templateversion_change", version.pk)
    assert client.get(change).status_code == 200
    response = client.post(change, {**fields, "subject": "Your password"})
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.subject == "Your password" and version.number == 1


def test_the_add_form_names_a_bad_field(client, marketing):
    template = MessageTemplateFactory.create()
    login(client, marketing)
    response = client.post(
        url("templateversion_add"),
        {
            "template": template.pk,
            "channel": "email",
            "language": "english",
            "subject": "x",
            "text_body": "x",
            "html_body": "x",
        },
    )
    assert response.status_code == 200
    assert "is not a two-letter language code" in response.content.decode()
    assert not TemplateVersion.objects.exists()


def test_submitting_through_the_confirmation_page(client, marketing):
    version = TemplateVersionFactory.create(created_by=marketing)
    login(client, marketing)
    page = client.get(url("templateversion_submit", version.pk))
    assert page.status_code == 200 and "Submit for legal review" in page.content.decode()
    response = client.post(url("templateversion_submit", version.pk))
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == "submitted"


def test_a_version_with_a_forbidden_tag_shows_why_and_cannot_be_submitted(client, marketing):
    bodies = bodies_for(["credentials"])
    version = TemplateVersionFactory.create(
        text_body=bodies["text_body"] + '{% include "x.html" %}'
    )
    login(client, marketing)
    page = client.get(url("templateversion_submit", version.pk)).content.decode()
    assert "Invalid block tag on line" in page and "include" in page
    assert re.search(r'value="Submit for legal review" class="default"\s+disabled', page)
    client.post(url("templateversion_submit", version.pk))
    version.refresh_from_db()
    assert version.status == "draft"


def test_legal_reviews_with_preview_and_readability_and_approves(client, marketing, legal):
    version = TemplateVersionFactory.create(created_by=marketing, status="submitted")
    login(client, legal)
    change = client.get(url("templateversion_change", version.pk)).content.decode()
    assert url("templateversion_review", version.pk) in change
    page = client.get(url("templateversion_review", version.pk)).content.decode()
    assert "Flesch reading ease" in page
    assert 'class="bd-score"' in page
    assert "Someone copied our customer database." in page  # the incident's facts, rendered
    response = client.post(
        url("templateversion_review", version.pk),
        {"decision": "approve", "comment": "", "content_hash": version.content_hash},
    )
    assert response.status_code == 302
    version.refresh_from_db()
    assert version.status == "approved" and version.reviewed_by == legal


def test_the_review_page_warns_when_the_words_are_too_hard(client, settings, legal):
    settings.BREACH_MESSAGE_MIN_READING_EASE = 90
    version = TemplateVersionFactory.create(status="submitted")
    login(client, legal)
    page = client.get(url("templateversion_review", version.pk)).content.decode()
    assert "harder to read than the minimum reading ease of 90" in page


def test_the_author_sees_the_refusal_on_the_review_page(client, make_user):
    writer = make_user("writer", roles.LEGAL_REVIEWER)
    version = TemplateVersionFactory.create(created_by=writer, status="submitted")
    login(client, writer)
    response = client.post(
        url("templateversion_review", version.pk),
        {"decision": "approve", "content_hash": version.content_hash},
    )
    assert response.status_code == 200
    assert "cannot approve it" in response.content.decode()
    version.refresh_from_db()
    assert version.status == "submitted"


def test_rejecting_on_the_review_page_needs_a_comment(client, legal):
    version = TemplateVersionFactory.create(status="submitted")
    login(client, legal)
    response = client.post(
        url("templateversion_review", version.pk),
        {"decision": "reject", "comment": "", "content_hash": version.content_hash},
    )
    assert "Say what must change." in response.content.decode()
    client.post(
        url("templateversion_review", version.pk),
        {"decision": "reject", "comment": "Too long.", "content_hash": version.content_hash},
    )
    version.refresh_from_db()
    assert (version.status, version.review_comment) == ("rejected", "Too long.")


@pytest.mark.parametrize("role", [roles.MARKETING_OPERATOR, roles.CMO, roles.AUDITOR])
def test_the_review_page_is_for_legal_only(client, make_user, role):
    version = TemplateVersionFactory.create(status="submitted")
    login(client, make_user("x", role))
    assert client.get(url("templateversion_review", version.pk)).status_code == 403
    response = client.post(
        url("templateversion_review", version.pk),
        {"decision": "approve", "content_hash": version.content_hash},
    )
    assert response.status_code == 403
    version.refresh_from_db()
    assert version.status == "submitted"


def test_an_approved_version_is_read_only_and_is_edited_as_a_new_version(client, marketing):
    version = TemplateVersionFactory.create(approved=True)
    login(client, marketing)
    change = url("templateversion_change", version.pk)
    page = client.get(change).content.decode()
    assert 'name="subject"' not in page and "Edit as a new version" in page
    response = client.post(change, {"subject": "Edited", "template": version.template_id})
    assert response.status_code == 403
    response = client.post(url("templateversion_new_version", version.pk))
    copy = TemplateVersion.objects.exclude(pk=version.pk).get()
    assert response["Location"] == url("templateversion_change", copy.pk)
    assert (copy.number, copy.status) == (version.number + 1, "draft")
    version.refresh_from_db()
    assert version.status == "approved" and version.subject == "About your data"


def test_the_bulk_submit_action_reports_what_it_refused(client, marketing):
    good = TemplateVersionFactory.create()
    bad = TemplateVersionFactory.create(text_body="{{ nope }}")
    login(client, marketing)
    response = client.post(
        url("templateversion_changelist"),
        {"action": "submit_for_review", "_selected_action": [good.pk, bad.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 submitted for legal review." in text
    assert "unknown variable {{ nope }}" in text
    good.refresh_from_db()
    bad.refresh_from_db()
    assert (good.status, bad.status) == ("submitted", "draft")


def communication_post(incident, versions, **overrides):
    start = window()["send_window_start"]
    data = {
        "incident": incident.pk,
        "name": "Breach notice",
        "audience_countries": "",
        "channels": ["email"],
        "send_window_start_0": start.strftime("%Y-%m-%d"),
        "send_window_start_1": "08:00:00",
        "send_window_end_0": start.strftime("%Y-%m-%d"),
        "send_window_end_1": "18:00:00",
        "fallback_language": "en",
        "chosen_versions": [v.pk for v in versions],
        "communicationsignoff_set-TOTAL_FORMS": "0",
        "communicationsignoff_set-INITIAL_FORMS": "0",
        "sign_offs-TOTAL_FORMS": "0",
        "sign_offs-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


def test_the_communication_page_shows_who_gets_what_and_each_persons_version(
    client,
    scenario,
    marketing,
):
    incident, v, people = scenario
    login(client, marketing)
    assert client.get(url("communication_add")).status_code == 200
    response = client.post(url("communication_add"), communication_post(incident, v.values()))
    assert response.status_code == 302, response.content.decode()[:5000]
    communication = Communication.objects.get()
    assert communication.created_by == marketing
    page = client.get(url("communication_change", communication.pk)).content.decode()
    assert "Everyone in the audience gets an approved version on every channel." in page
    counts = re.findall(r'<td class="bd-count">(\d+)</td>', page)
    # The person with no language of their own gets the company's (English): one row of 2.
    assert sorted(map(int, counts)) == [1] * 6 + [2]
    expected = {
        "de-pw": ("de-pw", False),
        "fr-card": ("en-card", True),
        "de-both": ("en-both", True),
        "fr-pw": ("fr-pw", False),
    }
    for person, (version_key, fallback) in expected.items():
        customer = people[person]
        lookup = client.get(
            url("communication_change", communication.pk, query=f"?preview={customer.pk}")
        ).content.decode()
        section = _person_section(lookup)
        shown = re.findall(r'<strong class="bd-version">(.*?)</strong>', section)
        assert shown == [str(v[version_key])], (person, shown)
        assert ("(fallback language)" in section) == fallback
        assert customer.first_name in section


def _person_section(page: str) -> str:
    return page.split("Preview for one person")[1].split("Previews for sample people")[0]


def test_without_view_pii_the_preview_looks_nobody_up_by_email(client, scenario, marketing, cmo):
    incident, v, people = scenario
    communication = drafted(incident, v.values(), author=marketing)
    login(client, cmo)
    pages = [
        _person_section(
            client.get(
                url("communication_change", communication.pk, query=f"?preview={email}")
            ).content.decode()
        )
        for email in (people["en-pw"].email, "nobody-at-all@example.org")
    ]
    # A person in the audience and an address nobody has read alike: the page tells
    # nothing about who the breach touched.
    assert pages[0].replace(people["en-pw"].email, "") == pages[1].replace(
        "nobody-at-all@example.org", ""
    )
    assert "enter their customer id instead" in pages[0]
    assert "bd-version" not in pages[0]
    assert "Customer id</label>" in pages[0]


def test_the_dpo_looks_a_person_up_by_email(client, scenario, marketing, make_user):
    incident, v, people = scenario
    communication = drafted(incident, v.values(), author=marketing)
    login(client, make_user("dora", roles.DPO))
    page = client.get(
        url("communication_change", communication.pk, query=f"?preview={people['en-pw'].email}")
    ).content.decode()
    section = _person_section(page)
    assert re.findall(r'<strong class="bd-version">(.*?)</strong>', section) == [str(v["en-pw"])]
    assert people["en-pw"].email in section


def test_a_preview_masks_the_email_that_greets_a_nameless_person(client, marketing, cmo):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"])
    nameless = affected(incident, "en", ["credentials"])
    Customer.objects.filter(pk=nameless.pk).update(
        first_name="", last_name="", email="nameless.reader@example.org"
    )
    communication = drafted(incident, [version], author=marketing)
    login(client, cmo)
    section = _person_section(
        client.get(
            url("communication_change", communication.pk, query=f"?preview={nameless.pk}")
        ).content.decode()
    )
    assert "Dear n***@e***.org" in section
    assert "nameless.reader@example.org" not in section


def test_the_communication_page_blocks_sign_off_when_someone_is_uncovered(
    client,
    scenario,
    marketing,
    cmo,
):
    incident, v, _ = scenario
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=marketing,
        name="Partial",
        channels=["email"],
        fallback_language="en",
        version_ids=[v["en-pw"].pk],
        **window(),
    )
    login(client, cmo)
    page = client.get(url("communication_sign", communication.pk)).content.decode()
    assert "Sign-off is blocked" in page and "no approved email version" in page
    assert re.search(r'value="Sign off" class="default"\s+disabled', page)


def test_cmo_and_ciso_sign_through_the_confirmation_page(client, scenario, marketing, cmo, ciso):
    incident, v, _ = scenario
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=marketing,
        name="Notice",
        channels=["email"],
        fallback_language="en",
        version_ids=[x.pk for x in v.values()],
        **window(),
    )
    content_hash = communication_content_hash(communication=communication)
    for user, role in ((cmo, roles.CMO), (ciso, roles.CISO)):
        login(client, user)
        page = client.get(url("communication_sign", communication.pk)).content.decode()
        assert content_hash in page
        response = client.post(
            url("communication_sign", communication.pk),
            {"role": role, "content_hash": content_hash},
        )
        assert response.status_code == 302
    communication.refresh_from_db()
    assert communication.status == "signed_off"
    # The author edits it afterwards: both sign-offs are void, and the page says so.
    login(client, marketing)
    response = client.post(
        url("communication_change", communication.pk),
        communication_post(incident, v.values(), name="Notice (reworded)"),
        follow=True,
    )
    assert "The change voided the sign-offs" in response.content.decode()
    assert CommunicationSignOff.objects.filter(voided_at__isnull=True).count() == 0
    communication.refresh_from_db()
    assert communication.status == "draft"


def test_a_superuser_without_a_role_cannot_sign_on_the_page(client, scenario):
    incident, v, _ = scenario
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=None,
        name="Notice",
        channels=["email"],
        fallback_language="en",
        version_ids=[x.pk for x in v.values()],
        **window(),
    )
    root = get_user_model().objects.create_superuser("root", password="a-long-test-password")
    login(client, root)
    page = client.get(url("communication_sign", communication.pk)).content.decode()
    assert "You are in neither the CMO nor the CISO group" in page
    response = client.post(
        url("communication_sign", communication.pk),
        {
            "role": roles.CMO,
            "content_hash": communication_content_hash(communication=communication),
        },
    )
    assert response.status_code == 200
    assert not CommunicationSignOff.objects.exists()


@pytest.mark.parametrize("role", [roles.MARKETING_OPERATOR, roles.LEGAL_REVIEWER, roles.AUDITOR])
def test_the_sign_page_is_for_cmo_and_ciso_only(client, make_user, role):
    incident = IncidentFactory.create()
    AffectedCustomerFactory.create(incident=incident, customer=CustomerFactory.create())
    version = TemplateVersionFactory.create(
        template=MessageTemplateFactory.create(incident=incident), approved=True
    )
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=None,
        name="Notice",
        channels=["email"],
        fallback_language="en",
        version_ids=[version.pk],
        **window(),
    )
    login(client, make_user("x", role))
    assert client.get(url("communication_sign", communication.pk)).status_code == 403
    assert (
        client.post(url("communication_sign", communication.pk), {"role": "CMO"}).status_code == 403
    )


def test_a_viewer_sees_the_chosen_versions_with_their_hashes(client, scenario, cmo):
    incident, v, _ = scenario
    communication = services.communication_create(
        incident_id=incident.pk,
        actor=None,
        name="Notice",
        channels=["email"],
        fallback_language="en",
        version_ids=[v["en-pw"].pk, v["de-pw"].pk],
        **window(),
    )
    login(client, cmo)
    page = client.get(url("communication_change", communication.pk)).content.decode()
    assert 'name="name"' not in page
    for key in ("en-pw", "de-pw"):
        assert f"{v[key]} — <code>{v[key].content_hash}</code>" in page
    assert url("communication_sign", communication.pk) in page


def test_a_template_page_lists_its_versions_and_refuses_a_duplicate_name(client, marketing):
    version = TemplateVersionFactory.create(approved=True)
    template = version.template
    login(client, marketing)
    page = client.get(reverse("admin:notifications_messagetemplate_change", args=[template.pk]))
    assert page.status_code == 200
    assert url("templateversion_change", version.pk) in page.content.decode()
    response = client.post(
        url("messagetemplate_add"), {"incident": template.incident_id, "name": template.name}
    )
    assert response.status_code == 200
    assert "already exists" in response.content.decode()

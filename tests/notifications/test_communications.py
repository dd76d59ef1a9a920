import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from config import roles
from config.models import company_profile
from incidents.models import TimelineEvent
from incidents.services import incident_update
from incidents.signals import scope_changed
from notifications import services
from notifications.models import Communication, CommunicationSignOff
from notifications.selectors import (
    communication_content_hash,
    communication_matrix,
    communication_previews,
    communication_sign_off_blockers,
    communication_sign_offs_match,
)
from notifications.services import TransitionRefused

from .factories import (
    IncidentFactory,
    MessageTemplateFactory,
    TemplateVersionFactory,
    affected,
    approved,
    window,
)

pytestmark = pytest.mark.django_db


def create(incident, versions, actor=None, **overrides):
    fields = {
        "name": "Breach notice",
        "channels": ["email"],
        "fallback_language": "en",
        "version_ids": [version.pk for version in versions],
        **window(),
        **overrides,
    }
    return services.communication_create(incident_id=incident.pk, actor=actor, **fields)


def test_each_person_gets_the_version_for_their_language_and_data(scenario):
    incident, v, people = scenario
    communication = create(incident, v.values())
    previews = communication_previews(
        communication=communication, customer_ids=[c.pk for c in people.values()]
    )
    got = {p.customer.pk: (p.version and p.version.pk, p.via_fallback) for p in previews}
    expected = {
        "en-pw": ("en-pw", False),
        "de-pw": ("de-pw", False),
        "fr-pw": ("fr-pw", False),
        "en-card": ("en-card", False),
        "de-card": ("de-card", False),
        "fr-card": ("en-card", True),
        "de-both": ("en-both", True),
        # No language of their own: the company's default (English), not a fallback.
        "none-pw": ("en-pw", False),
    }
    assert got == {people[k].pk: (v[name].pk, fb) for k, (name, fb) in expected.items()}
    by_customer = {p.customer.pk: p for p in previews}
    german = by_customer[people["de-pw"].pk].message
    assert german is not None
    assert german.subject.startswith("[de credentials] About your data, First")
    assert people["de-pw"].first_name in german.text
    assert "https://reset.invalid/PREVIEW" in german.text
    assert incident.nature in german.html


def test_the_matrix_counts_people_per_version_without_a_query_per_person(
    scenario, django_assert_max_num_queries
):
    incident, v, _people = scenario
    for _ in range(5):
        affected(incident, "de", ["credentials"])
    communication = create(incident, v.values())
    company_profile()  # created once; the matrix reads it with one query
    # The profile, whether the scope's counts are kept (a large scope's), the groups, the
    # versions: the same four for 13 people as for a million.
    with django_assert_max_num_queries(4):
        matrix = communication_matrix(communication=communication)
    rows = {
        (r.language, r.data_categories): (r.people, r.version and r.version.pk, r.via_fallback)
        for r in matrix.rows
    }
    assert rows == {
        ("de", ("credentials",)): (6, v["de-pw"].pk, False),
        ("de", ("credentials", "payment_card")): (1, v["en-both"].pk, True),
        ("de", ("payment_card",)): (1, v["de-card"].pk, False),
        # No language of their own (and none set for their country): the company's.
        ("en", ("credentials",)): (2, v["en-pw"].pk, False),
        ("en", ("payment_card",)): (1, v["en-card"].pk, False),
        ("fr", ("credentials",)): (1, v["fr-pw"].pk, False),
        ("fr", ("payment_card",)): (1, v["en-card"].pk, True),
    }
    assert matrix.people == 13
    assert communication_sign_off_blockers(communication=communication) == []


def test_the_audience_narrows_by_country_and_data_category(scenario):
    incident, v, _people = scenario
    communication = create(
        incident, v.values(), audience_countries=["fr"], audience_data_categories=["payment_card"]
    )
    matrix = communication_matrix(communication=communication)
    assert [(r.language, r.data_categories, r.people) for r in matrix.rows] == [
        ("fr", ("payment_card",), 1)
    ]
    assert communication.audience_countries == ["FR"]


def test_sign_off_is_blocked_while_someone_would_get_no_approved_version(scenario, cmo):
    incident, v, _people = scenario
    communication = create(incident, [v["en-pw"], v["de-pw"], v["en-card"]])
    blockers = communication_sign_off_blockers(communication=communication)
    assert blockers == [
        "1 person (language de, data credentials, payment_card) would get no approved "
        "email version."
    ]
    with pytest.raises(TransitionRefused, match="no approved email version"):
        services.communication_sign_off(
            communication_id=communication.pk,
            actor=cmo,
            role=roles.CMO,
            content_hash=communication_content_hash(communication=communication),
        )
    assert not CommunicationSignOff.objects.exists()


def test_letters_read_the_approved_email_words_unless_a_letter_version_fits(scenario):
    incident, v, _people = scenario
    # Ticking the letter channel asks for no letter version: letters print the email's words.
    communication = create(incident, [*v.values()], channels=["email", "letter"], name="Two")
    assert communication_sign_off_blockers(communication=communication) == []
    letters = [
        r for r in communication_matrix(communication=communication).rows if r.channel == "letter"
    ]
    assert letters and all(r.version is not None and r.version.channel == "email" for r in letters)

    letter = approved(incident, "en", ["credentials", "payment_card"], channel="letter")
    communication = create(incident, [*v.values(), letter], channels=["email", "letter"])
    assert communication_sign_off_blockers(communication=communication) == []
    english = [
        r
        for r in communication_matrix(communication=communication).rows
        if r.channel == "letter" and r.language == "en"
    ]
    assert english and all(r.version == letter for r in english)


def test_blank_incident_facts_block_sign_off(scenario):
    incident, v, _people = scenario
    incident.likely_consequences = " "
    incident.save()
    communication = create(incident, v.values())
    assert communication_sign_off_blockers(communication=communication) == [
        "The incident record has no likely consequences: every message would show a blank."
    ]


def test_only_approved_versions_of_this_incident_can_be_chosen(scenario):
    incident, v, _people = scenario
    draft = TemplateVersionFactory.create(template=MessageTemplateFactory.create(incident=incident))
    foreign = approved(IncidentFactory.create(), "en", ["credentials"])
    second = TemplateVersionFactory.create(
        template=v["en-pw"].template, number=99, subject="Other words", approved=True
    )
    with pytest.raises(ValidationError) as error:
        create(incident, [draft, foreign, v["en-pw"], second])
    message = error.value.message_dict["versions"][0]
    assert "is not approved by legal" in message
    assert "belongs to another incident" in message
    assert "two versions of one template" in message
    assert not Communication.objects.exists()


def test_bad_communication_input_names_each_field(scenario):
    incident, _v, _ = scenario
    start = window()["send_window_start"]
    with pytest.raises(ValidationError) as error:
        create(
            incident,
            [],
            name=" ",
            channels=[],
            audience_countries=["Germany"],
            audience_data_categories=["dna"],
            send_window_start=start,
            send_window_end=start,
            fallback_language="",
        )
    assert set(error.value.message_dict) == {
        "name",
        "channels",
        "audience_countries",
        "audience_data_categories",
        "send_window_end",
        "fallback_language",
    }


def sign(communication, actor, role):
    communication.refresh_from_db()
    return services.communication_sign_off(
        communication_id=communication.pk,
        actor=actor,
        role=role,
        content_hash=communication_content_hash(communication=communication),
    )


def test_cmo_and_ciso_sign_off_and_the_send_check_passes(scenario, marketing, cmo, ciso):
    incident, v, _ = scenario
    communication = create(incident, v.values(), actor=marketing)
    sign(communication, cmo, roles.CMO)
    assert not communication_sign_offs_match(communication_id=communication.pk)
    sign(communication, ciso, roles.CISO)
    communication.refresh_from_db()
    assert communication.status == Communication.Status.SIGNED_OFF
    assert communication_sign_offs_match(communication_id=communication.pk)
    events = list(TimelineEvent.objects.filter(incident=incident).values_list("kind", "payload"))
    signed = [p for k, p in events if k == "communication.signed_off"]
    assert [p["role"] for p in signed] == ["CMO", "CISO"]
    assert {p["content_hash"] for p in signed} == {
        communication_content_hash(communication=communication)
    }
    assert events[-1][0] == "communication.approved"


def test_the_author_cannot_sign(scenario, make_user):
    incident, v, _ = scenario
    author = make_user("author", roles.CMO)
    communication = create(incident, v.values(), actor=author)
    with pytest.raises(TransitionRefused, match="wrote"):
        sign(communication, author, roles.CMO)


def test_a_person_in_both_groups_signs_once(scenario, make_user, ciso):
    incident, v, _ = scenario
    both = make_user("both", roles.CMO, roles.CISO)
    communication = create(incident, v.values())
    sign(communication, both, roles.CMO)
    with pytest.raises(TransitionRefused, match="one person signs once"):
        sign(communication, both, roles.CISO)
    communication.refresh_from_db()
    assert communication.status == Communication.Status.DRAFT
    assert not communication_sign_offs_match(communication_id=communication.pk)
    sign(communication, ciso, roles.CISO)
    assert communication_sign_offs_match(communication_id=communication.pk)


def test_one_role_signs_once(scenario, cmo, make_user):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    with pytest.raises(TransitionRefused, match="The CMO has already signed"):
        sign(communication, make_user("cmo2", roles.CMO), roles.CMO)


def test_signing_needs_the_role_not_superuser_status(scenario, make_user):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    root = get_user_model().objects.create_superuser("root", password="a-long-test-password")
    with pytest.raises(TransitionRefused, match="not in the CMO group"):
        sign(communication, root, roles.CMO)
    with pytest.raises(TransitionRefused, match="not in the CISO group"):
        sign(communication, make_user("cmo", roles.CMO), roles.CISO)
    with pytest.raises(TransitionRefused):
        sign(communication, make_user("legal", roles.LEGAL_REVIEWER), roles.CMO)
    with pytest.raises(ValidationError):
        sign(communication, make_user("dpo", roles.DPO), roles.DPO)
    assert not CommunicationSignOff.objects.exists()


def test_a_sign_off_on_content_that_changed_since_it_was_shown_is_refused(scenario, cmo):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    shown = communication_content_hash(communication=communication)
    incident.measures_taken = "We did something else."
    incident.save()
    with pytest.raises(TransitionRefused, match="changed since"):
        services.communication_sign_off(
            communication_id=communication.pk, actor=cmo, role=roles.CMO, content_hash=shown
        )


def update(communication, actor, **overrides):
    communication.refresh_from_db()
    fields = {
        "name": communication.name,
        "channels": communication.channels,
        "fallback_language": communication.fallback_language,
        "version_ids": list(communication.versions.values_list("pk", flat=True)),
        "audience_countries": communication.audience_countries,
        "audience_data_categories": communication.audience_data_categories,
        "send_window_start": communication.send_window_start,
        "send_window_end": communication.send_window_end,
        **overrides,
    }
    return services.communication_update(communication_id=communication.pk, actor=actor, **fields)


def test_an_edit_after_sign_off_voids_both_and_says_why(scenario, marketing, cmo, ciso):
    incident, v, _ = scenario
    communication = create(incident, v.values(), actor=marketing)
    signed_hash = communication_content_hash(communication=communication)
    sign(communication, cmo, roles.CMO)
    sign(communication, ciso, roles.CISO)
    start = communication.send_window_start
    update(communication, marketing, send_window_end=start.replace(hour=20))
    communication.refresh_from_db()
    assert communication.status == Communication.Status.DRAFT
    assert not communication_sign_offs_match(communication_id=communication.pk)
    voided = CommunicationSignOff.objects.filter(communication=communication)
    assert voided.count() == 2
    assert all(s.voided_at and "send window end" in s.void_reason for s in voided)
    event = TimelineEvent.objects.filter(incident=incident).order_by("-seq")[0]
    assert event.kind == "communication.sign_offs_voided"
    assert event.actor == marketing
    assert "send window end" in event.payload["reason"]
    assert {s["role"] for s in event.payload["sign_offs"]} == {"CMO", "CISO"}
    assert communication_content_hash(communication=communication) != signed_hash
    # Both may sign the new content again.
    sign(communication, cmo, roles.CMO)
    sign(communication, ciso, roles.CISO)
    assert communication_sign_offs_match(communication_id=communication.pk)


def test_changing_the_versions_voids_sign_offs(scenario, cmo):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    update(communication, None, version_ids=[x.pk for x in v.values()][:-1])
    sign_off = CommunicationSignOff.objects.get()
    assert "template versions" in sign_off.void_reason


def test_saving_without_a_change_keeps_the_sign_offs(scenario, cmo):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    update(communication, None)
    assert CommunicationSignOff.objects.get().voided_at is None


def test_a_change_of_scope_voids_sign_offs(scenario, cmo):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    scope_changed.send(sender=None, incident_id=incident.pk, added=3, removed=0, actor=None)
    sign_off = CommunicationSignOff.objects.get()
    assert sign_off.voided_at is not None
    assert sign_off.void_reason == "The incident's scope changed (3 added, 0 removed)."


def test_a_fact_the_messages_use_changed_on_the_incident_voids_the_sign_offs_and_says_which(
    scenario, cmo, ciso, make_user
):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    sign(communication, ciso, roles.CISO)
    dpo = make_user("dora", roles.DPO)

    incident_update(
        incident_id=incident.pk,
        actor=dpo,
        nature="Actually it was worse.",
        measures_taken="Passwords reset.",
    )

    communication.refresh_from_db()
    assert communication.status == Communication.Status.DRAFT
    reasons = set(CommunicationSignOff.objects.values_list("void_reason", flat=True))
    assert reasons == {
        "The incident's nature of the breach, measures taken changed, "
        "so the messages read differently."
    }
    event = TimelineEvent.objects.filter(kind="communication.sign_offs_voided").get()
    assert event.actor == dpo and event.payload["communication"] == communication.pk


def test_a_fact_the_messages_do_not_use_keeps_the_sign_offs(scenario, cmo, ciso):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    sign(communication, ciso, roles.CISO)

    incident_update(incident_id=incident.pk, actor=None, title="Renamed", systems=["crm"])

    assert communication_sign_offs_match(communication_id=communication.pk)
    assert not CommunicationSignOff.objects.filter(voided_at__isnull=False).exists()


def test_a_fact_changed_on_the_incident_fails_the_send_check(scenario, cmo, ciso):
    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    sign(communication, ciso, roles.CISO)
    incident.nature = "Actually it was worse."
    incident.save()
    assert not communication_sign_offs_match(communication_id=communication.pk)


def test_the_database_keeps_one_active_sign_off_per_role_and_person_and_only_two_roles(
    scenario, cmo, ciso
):
    from django.db import IntegrityError, transaction
    from django.utils import timezone

    incident, v, _ = scenario
    communication = create(incident, v.values())
    sign(communication, cmo, roles.CMO)
    now = timezone.now()
    for role, user in ((roles.CMO, ciso), (roles.CISO, cmo), (roles.DPO, ciso)):
        with pytest.raises(IntegrityError), transaction.atomic():
            CommunicationSignOff.objects.create(
                communication=communication, role=role, user=user, content_hash="x", signed_at=now
            )
    assert CommunicationSignOff.objects.count() == 1

"""Reaching everyone: the unreached count, returned letters, substitute notice, the
call-centre pack and the agent's lookup by reference."""

import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from config import roles
from customers.models import Customer, PiiAccess
from incidents.models import Obligation, TimelineEvent
from incidents.services import ObligationError, obligation_meet
from notifications import services
from notifications.models import (
    CallCentrePack,
    LetterBatch,
    Notification,
    RemediationCode,
    ReturnedLetter,
    SubstituteNotice,
    reference_display,
)
from notifications.reach.callcentre import (
    call_centre_pack_csv,
    call_centre_pack_current,
    call_centre_pack_make,
    call_centre_pack_pdf,
)
from notifications.reach.lookup import notification_lookup
from notifications.reach.returns import returned_letters_import
from notifications.reach.substitute import (
    substitute_notice_content_hash,
    substitute_notice_decide,
    substitute_notice_sign_off,
    substitute_notice_signed,
)
from notifications.reach.unreached import unreached_counts
from notifications.services.common import TransitionRefused

from .delivery_helpers import drafted
from .factories import AffectedCustomerFactory, CustomerFactory, IncidentFactory, approved, window

pytestmark = pytest.mark.django_db
TOLL_FREE = "+1 800 555 0199"


def _person(incident, *, email=True, address=True, country="US", region="CA"):
    customer = CustomerFactory.create(
        email=f"p{Customer.objects.count()}@example.com" if email else "",
        email_status=Customer.EmailStatus.VALID if email else Customer.EmailStatus.MISSING,
        street="1 Main St" if address else "",
        city="Springfield" if address else "",
        postal_code="90001",
        country=country,
        region=region,
    )
    AffectedCustomerFactory.create(incident=incident, customer=customer)
    return customer


def _letters(communication, customers):
    """Letters to these people, batched (as the letter service leaves them)."""
    batch = LetterBatch.objects.create(communication=communication, paper_size="A4")
    Notification.objects.bulk_create(
        [
            Notification(
                communication=communication,
                customer=c,
                channel="letter",
                status=Notification.Status.LETTER,
                letter_batch=batch,
            )
            for c in customers
        ]
    )
    return {n.customer_id: n for n in Notification.objects.filter(communication=communication)}


@pytest.fixture
def world(make_user):
    incident = IncidentFactory.create()
    version = approved(incident, "en", ["credentials"], channel="letter")
    communication = drafted(incident, [version], channels=("email", "letter"))
    return incident, version, communication


def test_references_are_drawn_by_the_database_and_unique(world):
    incident, _version, communication = world
    people = [_person(incident, email=False) for _ in range(3)]
    notifications = _letters(communication, people)
    references = {n.reference for n in notifications.values()}
    assert len(references) == 3
    assert all(len(r) == 16 and r.isalnum() and r == r.upper() for r in references)
    assert reference_display("ABCDEF0123456789") == "ABCD-EF01-2345-6789"


def test_returned_mail_import_moves_people_into_the_unreached_count(world, make_user):
    incident, _version, communication = world
    posted = _person(incident, email=False)  # a letter goes to their address
    _person(incident, email=False, address=False)  # unreachable from the start
    _person(incident)  # email works
    notifications = _letters(communication, [posted])
    assert unreached_counts(incident_id=incident.pk).total == 1
    operator = make_user("mo", roles.MARKETING_OPERATOR)

    csv_text = (
        "Reference,Returned on,Reason\n"
        f"{reference_display(notifications[posted.pk].reference)},2026-11-25,Addressee unknown\n"
    )
    assert returned_letters_import(csv_text=csv_text, source="returns.csv", actor=operator) == 1

    counts = unreached_counts(incident_id=incident.pk)
    assert counts.total == 2
    (row,) = counts.rows
    assert (row.jurisdiction, row.no_address, row.letter_returned) == ("US-CA", 1, 1)
    # The same file again changes nothing.
    assert returned_letters_import(csv_text=csv_text, source="returns.csv", actor=operator) == 0
    # A corrected address from the CRM makes the person reachable by post again.
    Customer.objects.filter(pk=posted.pk).update(street="2 New Road")
    assert unreached_counts(incident_id=incident.pk).total == 1


def test_a_bad_return_file_names_its_lines_and_writes_nothing(world, make_user):
    incident, _version, communication = world
    person = _person(incident, email=False)
    notifications = _letters(communication, [person])
    good = notifications[person.pk].reference
    csv_text = (
        f"reference,returned_on\n{good},2026-11-25\nFFFF-FFFF-FFFF-FFFF,2026-11-25\n"
        f"nonsense,2026-11-25\n{good},yesterday\n"
    )
    with pytest.raises(ValidationError) as error:
        returned_letters_import(
            csv_text=csv_text, source="r.csv", actor=make_user("mo", roles.MARKETING_OPERATOR)
        )
    text = " ".join(error.value.messages)
    assert "line 3: no letter has the reference FFFFFFFFFFFFFFFF" in text
    assert "line 4: 'nonsense' is not a letter reference" in text
    assert "line 5: returned_on 'yesterday' is not a date" in text
    assert not ReturnedLetter.objects.exists()


def test_unreached_show_on_the_incident_page_with_the_import_link(world, make_user, client):
    incident, _version, _communication = world
    _person(incident, email=False, address=False, country="DE", region="")
    client.force_login(make_user("dpo", roles.DPO))
    page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk])).content
    assert b"People no channel reaches" in page
    assert b"<td>DE</td><td>1</td>" in page
    assert reverse("admin:notifications_returnedletter_import").encode() in page


def _approve_texts(notice, legal):
    for version in (notice.web_version, notice.media_version):
        services.template_version_submit(version_id=version.pk, actor=legal)
        services.template_version_approve(
            version_id=version.pk, actor=legal, content_hash=version.content_hash
        )


def _sign(notice, *signers):
    for signer, role in zip(signers, ("CMO", "CISO"), strict=False):
        substitute_notice_sign_off(
            notice_id=notice.pk,
            actor=signer,
            role=role,
            content_hash=substitute_notice_content_hash(notice=notice),
        )


def _hipaa_required(incident, dpo):
    for _ in range(12):
        _person(incident, email=False, address=False)
    return substitute_notice_decide(
        incident_id=incident.pk, regime="hipaa", toll_free_number=TOLL_FREE, actor=dpo
    )


def test_substitute_texts_are_posted_only_after_the_cmo_and_the_ciso_sign(world, make_user):
    incident, _version, _communication = world
    dpo = make_user("dpo", roles.DPO)
    notice = _hipaa_required(incident, dpo)
    posting = notice.posting_obligation
    cmo, ciso = make_user("cmo", roles.CMO), make_user("ciso", roles.CISO)
    posted_at = timezone.now() - timedelta(hours=1)

    # Before legal approved the texts, nobody signs them and nothing is posted.
    with pytest.raises(TransitionRefused, match="legal approves it first"):
        _sign(notice, cmo)
    with pytest.raises(ObligationError, match="CMO and the CISO signed"):
        obligation_meet(obligation_id=posting.pk, actor=dpo, met_at=posted_at)

    _approve_texts(notice, make_user("legal", roles.LEGAL_REVIEWER))
    _sign(notice, cmo)
    # One signature is not enough to post.
    with pytest.raises(ObligationError, match="CMO and the CISO signed"):
        obligation_meet(obligation_id=posting.pk, actor=dpo, met_at=posted_at)
    assert not substitute_notice_signed(notice=notice)

    substitute_notice_sign_off(
        notice_id=notice.pk,
        actor=ciso,
        role="CISO",
        content_hash=substitute_notice_content_hash(notice=notice),
    )
    assert substitute_notice_signed(notice=notice)
    met = obligation_meet(obligation_id=posting.pk, actor=dpo, met_at=posted_at)
    assert met.status == Obligation.Status.MET
    signed = TimelineEvent.objects.filter(incident=incident, kind="substitute_notice.signed_off")
    assert sorted(signed.values_list("payload__role", flat=True)) == ["CISO", "CMO"]


def test_one_person_signs_the_substitute_texts_once(world, make_user):
    incident, _version, _communication = world
    notice = _hipaa_required(incident, make_user("dpo", roles.DPO))
    _approve_texts(notice, make_user("legal", roles.LEGAL_REVIEWER))
    both = make_user("both", roles.CMO, roles.CISO)
    content_hash = substitute_notice_content_hash(notice=notice)
    substitute_notice_sign_off(
        notice_id=notice.pk, actor=both, role="CMO", content_hash=content_hash
    )
    with pytest.raises(TransitionRefused, match="one person signs once"):
        substitute_notice_sign_off(
            notice_id=notice.pk, actor=both, role="CISO", content_hash=content_hash
        )
    with pytest.raises(TransitionRefused, match="The CMO has already signed"):
        substitute_notice_sign_off(
            notice_id=notice.pk,
            actor=make_user("cmo2", roles.CMO),
            role="CMO",
            content_hash=content_hash,
        )
    with pytest.raises(TransitionRefused, match="not in the CISO group"):
        substitute_notice_sign_off(
            notice_id=notice.pk,
            actor=make_user("cmo3", roles.CMO),
            role="CISO",
            content_hash=content_hash,
        )
    assert not substitute_notice_signed(notice=notice)


def test_a_changed_substitute_text_voids_the_sign_offs(world, make_user):
    incident, _version, _communication = world
    dpo = make_user("dpo", roles.DPO)
    notice = _hipaa_required(incident, dpo)
    legal = make_user("legal", roles.LEGAL_REVIEWER)
    _approve_texts(notice, legal)
    _sign(notice, make_user("cmo", roles.CMO), make_user("ciso", roles.CISO))
    assert substitute_notice_signed(notice=notice)
    seen = substitute_notice_content_hash(notice=notice)

    # The web posting is changed: a new version of its words, reviewed by legal again.
    web = notice.web_version
    changed = services.template_version_create(
        template_id=web.template_id,
        actor=make_user("mo", roles.MARKETING_OPERATOR),
        channel=web.channel,
        language=web.language,
        data_categories=web.data_categories,
        subject=web.subject,
        text_body=web.text_body + "\nOur offices are open on weekends too.\n",
        html_body=web.html_body + "<p>Our offices are open on weekends too.</p>",
    )
    assert substitute_notice_content_hash(notice=notice) != seen
    assert not substitute_notice_signed(notice=notice)  # the old signatures no longer count
    with pytest.raises(TransitionRefused, match="changed since they were shown"):
        substitute_notice_sign_off(
            notice_id=notice.pk,
            actor=make_user("ciso3", roles.CISO),
            role="CISO",
            content_hash=seen,
        )
    with pytest.raises(ObligationError, match="CMO and the CISO signed"):
        obligation_meet(
            obligation_id=notice.posting_obligation_id,
            actor=dpo,
            met_at=timezone.now() - timedelta(hours=1),
        )
    services.template_version_submit(version_id=changed.pk, actor=legal)
    services.template_version_approve(
        version_id=changed.pk, actor=legal, content_hash=changed.content_hash
    )
    _sign(notice, make_user("cmo2", roles.CMO), make_user("ciso2", roles.CISO))
    assert substitute_notice_signed(notice=notice)


def test_cmo_and_ciso_sign_from_the_incident_page(world, make_user, client):
    incident, _version, _communication = world
    notice = _hipaa_required(incident, make_user("dpo", roles.DPO))
    _approve_texts(notice, make_user("legal", roles.LEGAL_REVIEWER))
    content_hash = substitute_notice_content_hash(notice=notice)
    sign_url = reverse("admin:notifications_substitutenotice_sign_off", args=[incident.pk])
    for username, role in (("cmo", roles.CMO), ("ciso", roles.CISO)):
        client.force_login(make_user(username, role))
        page = client.get(reverse("admin:incidents_incident_change", args=[incident.pk]))
        assert sign_url.encode() in page.content
        form = client.get(sign_url).content.decode()
        assert TOLL_FREE in form and content_hash in form
        done = client.post(
            sign_url, {"notice": f"{notice.pk}:{content_hash}", "role": role}, follow=True
        ).content.decode()
        assert "The substitute notice&#x27;s texts are signed." in done
    assert "CISO: ciso at" in done
    assert substitute_notice_signed(notice=notice)


@pytest.mark.parametrize(("unreached", "required"), [(12, True), (9, False)])
def test_hipaa_substitute_notice_from_ten_unreached(world, make_user, unreached, required):
    incident, _version, _communication = world
    for _ in range(unreached):
        _person(incident, email=False, address=False)
    _person(incident)
    dpo = make_user("dpo", roles.DPO)

    notice = substitute_notice_decide(
        incident_id=incident.pk, regime="hipaa", toll_free_number=TOLL_FREE, actor=dpo
    )

    assert notice.unreached == unreached
    posting = Obligation.objects.filter(incident=incident, terms__code="hipaa-substitute-notice")
    if not required:
        assert notice.outcome == SubstituteNotice.Outcome.NOT_MET
        assert not posting.exists()
        assert notice.web_version is None
        return
    assert notice.outcome == SubstituteNotice.Outcome.REQUIRED
    start = posting.get()
    # Day deadlines run to the end of the 60th day.
    assert start.due_at is not None
    assert start.due_at.date() == (incident.awareness_at + timedelta(days=60)).date()
    end = Obligation.objects.get(incident=incident, terms__code="hipaa-substitute-notice-end")
    assert end.due_at is None  # the 90 days run from the day the posting goes up
    assert notice.web_version and TOLL_FREE in notice.web_version.text_body
    assert notice.media_version and TOLL_FREE in notice.media_version.text_body
    # The texts are drafts that legal reviews like any other template.
    assert notice.web_version.status == "draft"
    _approve_texts(notice, make_user("legal", roles.LEGAL_REVIEWER))
    _sign(notice, make_user("cmo", roles.CMO), make_user("ciso", roles.CISO))
    posted_at = timezone.now() - timedelta(hours=1)
    obligation_meet(obligation_id=start.pk, actor=dpo, met_at=posted_at)
    end.refresh_from_db()
    assert end.due_at is not None
    assert end.due_at.date() == (posted_at + timedelta(days=90)).date()


def test_gdpr_and_state_substitute_notice_need_the_dpos_figures(world, make_user):
    incident, _version, _communication = world
    _person(incident, email=False, address=False, country="DE", region="")
    for _ in range(3):
        _person(incident, email=False, address=False)
    dpo = make_user("dpo", roles.DPO)
    with pytest.raises(ValidationError, match="disproportionate effort"):
        substitute_notice_decide(
            incident_id=incident.pk,
            regime="gdpr",
            toll_free_number=TOLL_FREE,
            actor=dpo,
            disproportionate_effort=True,
        )
    gdpr = substitute_notice_decide(
        incident_id=incident.pk,
        regime="gdpr",
        toll_free_number=TOLL_FREE,
        actor=dpo,
        disproportionate_effort=True,
        reason="No address is known for them anywhere.",
    )
    assert (gdpr.outcome, gdpr.unreached) == (SubstituteNotice.Outcome.ALLOWED, 1)
    state = substitute_notice_decide(
        incident_id=incident.pk,
        regime="us_state",
        region="ca",
        toll_free_number=TOLL_FREE,
        actor=dpo,
        cost_estimate=Decimal(300_000),
        cost_threshold=Decimal(250_000),
    )
    assert (state.outcome, state.unreached) == (SubstituteNotice.Outcome.ALLOWED, 3)
    with pytest.raises(ValidationError, match="not a telephone number"):
        substitute_notice_decide(
            incident_id=incident.pk, regime="hipaa", toll_free_number="call us", actor=dpo
        )
    with pytest.raises(ValidationError, match="may not decide"):
        substitute_notice_decide(
            incident_id=incident.pk,
            regime="hipaa",
            toll_free_number=TOLL_FREE,
            actor=make_user("cmo", roles.CMO),
        )


def test_call_centre_pack_renders_and_a_new_approved_version_voids_it(world, make_user):
    incident, _version, communication = world
    _person(incident)
    cmo = make_user("cmo", roles.CMO)
    pack = call_centre_pack_make(communication_id=communication.pk, actor=cmo)
    assert call_centre_pack_make(communication_id=communication.pk, actor=cmo) == pack

    reader = PdfReader(io.BytesIO(call_centre_pack_pdf(pack=pack)))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    for heading in ("Script", "Questions callers ask", "When to escalate", "Never say"):
        assert heading in text
    assert "How do I know this call or email is genuine?" in text
    assert "How do I complain?" in text

    newer = approved(incident, "en", ["credentials"], channel="letter")
    services.communication_update(
        communication_id=communication.pk,
        actor=make_user("mo", roles.MARKETING_OPERATOR),
        name=communication.name,
        channels=communication.channels,
        fallback_language="en",
        version_ids=[newer.pk],
        **window(),
    )
    pack.refresh_from_db()
    assert pack.voided_at is not None and not call_centre_pack_current(pack=pack)
    second = call_centre_pack_make(communication_id=communication.pk, actor=cmo)
    assert second.number == 2
    assert (second.notice_hash, second.content_hash) != (pack.notice_hash, pack.content_hash)
    assert CallCentrePack.objects.filter(voided_at__isnull=True).get() == second


def test_call_centre_csv_escapes_formulas(world, make_user):
    incident, _version, communication = world
    incident.nature = '=HYPERLINK("http://evil")'
    incident.save()
    pack = call_centre_pack_make(
        communication_id=communication.pk, actor=make_user("cmo", roles.CMO)
    )
    text = call_centre_pack_csv(pack=pack)
    assert "'=HYPERLINK" in text
    assert ",=HYPERLINK" not in text


def test_agent_sees_what_the_person_was_sent_and_the_lookup_is_logged(world, make_user):
    incident, _version, communication = world
    person = _person(incident, email=False)
    notification = _letters(communication, [person])[person.pk]
    sent_at = datetime(2026, 11, 28, tzinfo=UTC)
    Notification.objects.filter(pk=notification.pk).update(sent_at=sent_at)
    RemediationCode.objects.create(
        incident=incident,
        code="CODE-1234",
        vendor="Monitor Inc",
        expires_on=datetime(2027, 12, 31).date(),
        notification=notification,
        assigned_at=timezone.now(),
    )
    agent = make_user("agent", roles.CALL_CENTRE_AGENT)

    result = notification_lookup(
        reference=reference_display(notification.reference).lower(), actor=agent
    )

    assert result.found and result.affected
    assert result.incident == incident.title
    (sent,) = result.sent
    assert (sent.communication, sent.code, sent.code_vendor) == (
        communication.name,
        "CODE-1234",
        "Monitor Inc",
    )
    access = PiiAccess.objects.get(user=agent)
    assert access.customer_id == person.pk
    assert reference_display(notification.reference) in access.detail
    missing = notification_lookup(reference="0000-0000-0000-0000", actor=agent)
    assert not missing.found
    assert PiiAccess.objects.filter(user=agent).count() == 2
    with pytest.raises(ValidationError, match="may not look"):
        notification_lookup(reference=notification.reference, actor=make_user("cmo", roles.CMO))


def test_agent_cannot_browse_or_search_notifications(world, make_user, client):
    incident, _version, communication = world
    person = _person(incident, email=False)
    notification = _letters(communication, [person])[person.pk]
    client.force_login(make_user("agent", roles.CALL_CENTRE_AGENT))
    assert client.get(reverse("admin:notifications_notification_changelist")).status_code == 403
    assert client.get(reverse("admin:customers_customer_changelist")).status_code == 403
    assert (
        client.get(
            reverse("admin:notifications_notification_change", args=[notification.pk])
        ).status_code
        == 403
    )
    page = client.post(
        reverse("admin:notifications_notification_lookup"),
        {"reference": reference_display(notification.reference)},
    )
    assert page.status_code == 200
    assert communication.name.encode() in page.content
    assert person.street.encode() not in page.content
    assert person.first_name.encode() not in page.content


def test_the_evidence_pack_counts_the_unreached_and_the_decision(world, make_user):
    from incidents.evidence.services import evidence_pack_render

    incident, _version, _communication = world
    for _ in range(12):
        _person(incident, email=False, address=False, region="TX")
    substitute_notice_decide(
        incident_id=incident.pk,
        regime="hipaa",
        toll_free_number=TOLL_FREE,
        actor=make_user("dpo", roles.DPO),
    )

    rendered = evidence_pack_render(incident_id=incident.pk)

    text = " ".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(rendered.pdf)).pages)
    squashed = "".join(text.split())
    assert "People no channel reaches, and substitute notice" in text
    assert "US-TX" in text
    assert "Substitutenoticerequired" in squashed
    assert "".join(TOLL_FREE.split()) in squashed


def test_pages_import_returns_decide_and_export_the_pack(world, make_user, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    incident, version, communication = world
    person = _person(incident, email=False)
    notification = _letters(communication, [person])[person.pk]
    for _ in range(10):
        _person(incident, email=False, address=False)

    client.force_login(make_user("mo", roles.MARKETING_OPERATOR))
    bad = SimpleUploadedFile("returns.csv", b"reference\nnope\n", content_type="text/csv")
    page = client.post(reverse("admin:notifications_returnedletter_import"), {"file": bad})
    assert "line 2: &#x27;nope&#x27; is not a letter reference" in page.content.decode()
    good = SimpleUploadedFile(
        "returns.csv", f"reference\n{notification.reference}\n".encode(), content_type="text/csv"
    )
    page = client.post(
        reverse("admin:notifications_returnedletter_import"), {"file": good}, follow=True
    )
    assert "1 returned letters recorded." in page.content.decode()
    assert reference_display(notification.reference) in page.content.decode()
    # One envelope scanned at the desk: the same import, a file of one line.
    other = _person(incident, email=False, region="NY")
    reminder = drafted(incident, [version], name="Reminder", channels=("email", "letter"))
    scanned = _letters(reminder, [other])[other.pk]
    page = client.post(
        reverse("admin:notifications_returnedletter_import"),
        {"reference": reference_display(scanned.reference)},
        follow=True,
    )
    assert "1 returned letters recorded." in page.content.decode()
    assert ReturnedLetter.objects.filter(notification=scanned, source="scanned").exists()

    client.force_login(make_user("dpo", roles.DPO))
    page = client.post(
        reverse("admin:notifications_substitutenotice_decide", args=[incident.pk]),
        {"regime": "hipaa", "toll_free_number": TOLL_FREE},
        follow=True,
    )
    body = page.content.decode()
    assert "Substitute notice required" in body
    assert "HIPAA substitute notice posted" in body  # in the obligations table
    assert "web: draft; media: draft" in body  # the texts wait for legal

    client.force_login(make_user("cmo", roles.CMO))
    page = client.post(
        reverse("admin:notifications_callcentrepack_make", args=[communication.pk]), follow=True
    )
    pack = CallCentrePack.objects.get()
    assert "CSV for the knowledge base" in page.content.decode()
    export = client.get(reverse("admin:notifications_callcentrepack_export", args=[pack.pk, "csv"]))
    assert export["Content-Type"].startswith("text/csv")
    assert b"How do I complain?" in export.content
    CallCentrePack.objects.filter(pk=pack.pk).update(voided_at=timezone.now(), void_reason="x")
    refused = client.get(
        reverse("admin:notifications_callcentrepack_export", args=[pack.pk, "pdf"])
    )
    assert refused.status_code == 302

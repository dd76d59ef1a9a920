"""Substitute notice: when the people no channel reaches are told by a public notice, as a
recorded decision under one regime's condition. A notice required or allowed produces the
web posting and the media notice as drafts written from the approved words (legal reviews
them like any template) and the posting's deadlines as obligations of the incident."""

import hashlib
import json
import re
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from incidents.models import AffectedCustomer, Incident, Obligation, Regime
from incidents.services import obligations_sync, timeline_append
from incidents.services.obligations import regime_terms

from .. import events
from ..models import (
    Channel,
    SignOffRole,
    SubstituteNotice,
    SubstituteNoticeSignOff,
    TemplateVersion,
)
from ..rendering import ART34_VARIABLES, CATEGORY_VARIABLES
from ..services.common import (
    Actor,
    TransitionRefused,
    acting_user,
    sign_off_record,
    sign_off_signer,
)
from ..services.templates import template_create, template_version_writers
from .unreached import unreached_counts

SUBSTITUTE_DECIDED = events.SUBSTITUTE_NOTICE_DECIDED
HIPAA_MINIMUM = 10
HIPAA_POSTING_DAYS = 90
# Individual notice is due 60 days from discovery (164.404(b)); the substitute with it.
HIPAA_POSTING_DUE_DAYS = 60
EEA = {
    *("AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE"),
    *("IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"),
    *("IS", "LI", "NO"),
}
TOLL_FREE = re.compile(r"^\+?[0-9][0-9 ()\-]{6,30}$")


def _regime(code: str, **fields: object) -> Regime:
    """The rule a substitute-notice obligation is copied from. Inactive: the obligations
    sync never applies it by itself; only a decision here does."""
    regime, _ = Regime.objects.get_or_create(code=code, defaults={"active": False, **fields})
    return regime


def _obligation(incident: Incident, regime: Regime, actor: Actor) -> Obligation:
    obligation, created = Obligation.objects.get_or_create(
        incident=incident,
        regime=regime,
        defaults={
            "name": regime.name,
            "recipient": regime.recipient,
            "terms": regime_terms(regime),
        },
    )
    if created:
        timeline_append(
            incident_id=incident.pk,
            kind="obligation.created",
            actor=acting_user(actor),
            payload={
                "obligation": obligation.pk,
                "regime": regime.code,
                "why": "substitute notice",
            },
        )
    return obligation


def _posting_obligations(
    incident: Incident, regime: str, region: str, actor: Actor
) -> tuple[Obligation, Obligation | None]:
    if regime == SubstituteNotice.Regime.HIPAA:
        start = _regime(
            "hipaa-substitute-notice",
            name="HIPAA substitute notice posted",
            recipient="The public (web posting or major media)",
            deadline_amount=HIPAA_POSTING_DUE_DAYS,
            deadline_unit=Regime.Unit.DAYS,
            terms="Post a conspicuous notice on the home page for 90 days, or in major print "
            "or broadcast media where the people live, with a toll-free number active for "
            "at least 90 days. Met when the posting goes up.",
            source="45 CFR 164.404(d)(2)(ii)",
        )
        end = _regime(
            "hipaa-substitute-notice-end",
            name="HIPAA substitute notice kept up 90 days",
            recipient="The public (web posting) and the toll-free line",
            clock_start=Regime.ClockStart.PRECEDING_FILING,
            follows=start,
            deadline_amount=HIPAA_POSTING_DAYS,
            deadline_unit=Regime.Unit.DAYS,
            terms="The web posting and the toll-free number stay up until this date at least. "
            "Met when they are taken down, not before it.",
            source="45 CFR 164.404(d)(2)(ii)(A), (B)",
        )
        return _obligation(incident, start, actor), _obligation(incident, end, actor)
    if regime == SubstituteNotice.Regime.GDPR:
        start = _regime(
            "gdpr-art34-public-communication",
            name="GDPR Art. 34(3)(c) public communication",
            recipient="The public",
            deadline_unit=Regime.Unit.NONE,
            terms="A public communication or similar measure informing the data subjects in an "
            "equally effective manner, without undue delay.",
            source="GDPR Art. 34(3)(c)",
        )
        return _obligation(incident, start, actor), None
    start = _regime(
        f"us-{region.lower()}-substitute-notice",
        name=f"{region} substitute notice",
        recipient="The public (email, conspicuous web posting, statewide media)",
        regions=[region],
        countries=["US"],
        deadline_unit=Regime.Unit.NONE,
        terms="Substitute notice: email where an address is known, a conspicuous posting on "
        "the web site, and notice to major statewide media, in the most expedient time "
        "possible.",
        source=f"{region} breach notification statute (substitute notice)",
    )
    return _obligation(incident, start, actor), None


def _source_words(incident_id: int) -> TemplateVersion:
    """The approved notice the substitute texts are written from: letters before emails
    (they are already free of links), newest first."""
    versions = TemplateVersion.objects.filter(
        template__incident_id=incident_id, status=TemplateVersion.Status.APPROVED
    ).order_by("-channel", "-reviewed_at")
    version = versions.filter(channel=Channel.LETTER).first() or versions.first()
    if version is None:
        raise ValidationError(
            "The incident has no approved notice yet: substitute texts are written from it."
        )
    return version


def substitute_texts(*, source: TemplateVersion, toll_free_number: str) -> dict[str, str]:
    """The web posting and the media notice, each ending with the toll-free number."""
    line = (
        f"If you think you were affected and did not receive a letter or an email from us, "
        f"call us free of charge on {toll_free_number}."
    )
    web = f"{source.subject}\n\n{source.text_body.strip()}\n\n{line}\n"
    # The media notice says what Art. 34(2) requires too, so legal can approve it as it is.
    required = dict(ART34_VARIABLES)
    for category in source.data_categories:
        required.update(CATEGORY_VARIABLES.get(category, {}))
    facts = "\n\n".join(
        f"{meaning[0].upper()}{meaning[1:]}: {{{{ {variable} }}}}"
        for variable, meaning in required.items()
    )
    media = (
        f"{source.subject}\n\nWe could not reach everyone affected by this incident by letter "
        f"or email.\n\n{facts}\n\n{line} The full notice is posted on our web site.\n"
    )
    return {"web": web, "media": media}


def _draft(
    incident: Incident, name: str, subject: str, text: str, source: TemplateVersion, actor: Actor
) -> TemplateVersion:
    html = "".join(f"<p>{p}</p>" for p in text.split("\n\n") if p.strip())
    return template_create(
        incident_id=incident.pk,
        name=name,
        actor=actor,
        channel=Channel.LETTER,
        language=source.language,
        data_categories=source.data_categories,
        subject=subject,
        text_body=text,
        html_body=html,
    )


@transaction.atomic
def substitute_notice_decide(
    *,
    incident_id: int,
    regime: str,
    toll_free_number: str,
    actor: Actor,
    region: str = "",
    cost_estimate: Decimal | None = None,
    cost_threshold: Decimal | None = None,
    people_threshold: int | None = None,
    disproportionate_effort: bool = False,
    reason: str = "",
) -> SubstituteNotice:
    """Record whether the law requires or allows substitute notice for this incident under
    `regime`, from the unreached count now and the DPO's figures, and when it does, draft
    the public texts and open the posting obligations."""
    user = acting_user(actor)
    if user is None or not user.has_perm("notifications.decide_substitutenotice"):
        raise ValidationError(f"{actor} may not decide on substitute notice.")
    errors: dict[str, str] = {}
    toll_free_number = toll_free_number.strip()
    if not TOLL_FREE.match(toll_free_number):
        errors["toll_free_number"] = (
            f"{toll_free_number!r} is not a telephone number: every substitute text carries it"
        )
    if regime not in SubstituteNotice.Regime.values:
        errors["regime"] = f"unknown regime {regime!r}"
    region = region.strip().upper()
    if regime == SubstituteNotice.Regime.US_STATE:
        if not re.fullmatch(r"[A-Z]{2}", region):
            errors["region"] = "give the US state's two-letter code"
        if cost_threshold is None and people_threshold is None:
            errors["cost_threshold"] = "enter the state's cost or head-count threshold"
    if regime == SubstituteNotice.Regime.GDPR and disproportionate_effort and not reason.strip():
        errors["reason"] = "say why individual notice would involve disproportionate effort"
    if errors:
        raise ValidationError(errors)
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    counts = unreached_counts(incident_id=incident_id)
    scope = AffectedCustomer.objects.filter(incident_id=incident_id)
    outcome = SubstituteNotice.Outcome.NOT_MET
    if regime == SubstituteNotice.Regime.HIPAA:
        unreached, affected = counts.total, scope.count()
        if unreached >= HIPAA_MINIMUM:
            outcome = SubstituteNotice.Outcome.REQUIRED
        condition = (
            f"Contact information is out of date or missing for {unreached} of {affected} "
            f"people; {HIPAA_MINIMUM} or more require a web posting for {HIPAA_POSTING_DAYS} "
            "days or major print or broadcast media, with a toll-free number"
            + (
                "."
                if outcome == SubstituteNotice.Outcome.REQUIRED
                else "; fewer may be told by another written notice, telephone or other means."
            )
        )
    elif regime == SubstituteNotice.Regime.GDPR:
        unreached = counts.for_country(EEA)
        affected = scope.filter(customer__country__in=EEA).count()
        if disproportionate_effort and unreached:
            outcome = SubstituteNotice.Outcome.ALLOWED
        condition = (
            f"{unreached} of {affected} people in the EEA cannot be reached individually; "
            "Art. 34(3)(c) allows a public communication where individual notice would "
            "involve disproportionate effort"
            + (
                ": the DPO judged it would."
                if disproportionate_effort
                else ": the DPO did not find it would."
            )
        )
    else:
        unreached = counts.for_region("US", region)
        affected = scope.filter(customer__country="US", customer__region__iexact=region).count()
        over_cost = (
            cost_estimate is not None
            and cost_threshold is not None
            and cost_estimate > cost_threshold
        )
        over_people = people_threshold is not None and affected > people_threshold
        if over_cost or over_people:
            outcome = SubstituteNotice.Outcome.ALLOWED
        condition = (
            f"{region}: notice would cost {cost_estimate if cost_estimate is not None else 'n/a'}"
            f" against a threshold of {cost_threshold if cost_threshold is not None else 'n/a'}; "
            f"{affected} residents affected against a threshold of "
            f"{people_threshold if people_threshold is not None else 'n/a'}; {unreached} "
            "cannot be reached."
        )
    notice = SubstituteNotice(
        incident=incident,
        regime=regime,
        region=region if regime == SubstituteNotice.Regime.US_STATE else "",
        unreached=unreached,
        affected=affected,
        cost_estimate=cost_estimate,
        cost_threshold=cost_threshold,
        people_threshold=people_threshold,
        condition=condition,
        outcome=outcome,
        reason=reason.strip(),
        toll_free_number=toll_free_number,
        decided_by=user,
        decided_at=timezone.now(),
    )
    if outcome != SubstituteNotice.Outcome.NOT_MET:
        source = _source_words(incident_id)
        texts = substitute_texts(source=source, toll_free_number=toll_free_number)
        label = SubstituteNotice.Regime(regime).label + (f" {region}" if notice.region else "")
        stamp = f"{notice.decided_at:%Y-%m-%d %H:%M:%S}"
        notice.web_version = _draft(
            incident,
            f"Substitute notice, web posting ({label}, {stamp})",
            source.subject,
            texts["web"],
            source,
            actor,
        )
        notice.media_version = _draft(
            incident,
            f"Substitute notice, media ({label}, {stamp})",
            source.subject,
            texts["media"],
            source,
            actor,
        )
        notice.posting_obligation, notice.posting_end_obligation = _posting_obligations(
            incident, regime, notice.region, actor
        )
    notice.save()
    timeline_append(
        incident_id=incident_id,
        kind=SUBSTITUTE_DECIDED,
        actor=user,
        payload={
            "substitute_notice": notice.pk,
            "regime": regime,
            "region": notice.region,
            "outcome": outcome,
            "unreached": unreached,
            "affected": affected,
            "condition": condition,
            "toll_free_number": toll_free_number,
        },
    )
    if outcome != SubstituteNotice.Outcome.NOT_MET:
        obligations_sync(incident_id=incident_id, actor=user)
    return notice


# Signed off like a breach communication: the CMO and the CISO, two people, over exactly
# the texts legal approved. Posting waits for both.


def substitute_notice_texts(*, notice: SubstituteNotice) -> dict[str, TemplateVersion]:
    """The texts as they stand: the newest version of the web-posting and the media
    templates (a text changed as a new version is the text now)."""
    texts: dict[str, TemplateVersion] = {}
    for what, version in (("web", notice.web_version), ("media", notice.media_version)):
        if version is not None:
            newest = (
                TemplateVersion.objects.filter(template_id=version.template_id)
                .order_by("-number")
                .first()
            )
            texts[what] = newest or version
    return texts


def substitute_notice_content_hash(*, notice: SubstituteNotice) -> str:
    """SHA-256 of the texts' words: any change to either gives another hash."""
    content = {
        what: {"subject": v.subject, "text": v.text_body, "html": v.html_body}
        for what, v in substitute_notice_texts(notice=notice).items()
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def substitute_notice_sign_off_blockers(*, notice: SubstituteNotice) -> list[str]:
    if notice.outcome == SubstituteNotice.Outcome.NOT_MET:
        return ["No substitute notice was decided: there is nothing to sign."]
    return [
        f"The {what} text is {version.get_status_display().lower()}: legal approves it first."
        for what, version in substitute_notice_texts(notice=notice).items()
        if version.status != TemplateVersion.Status.APPROVED
    ]


def substitute_notice_current_sign_offs(
    *, notice: SubstituteNotice
) -> list[SubstituteNoticeSignOff]:
    """The sign-offs that still count: those over the texts as they stand."""
    current = substitute_notice_content_hash(notice=notice)
    return list(notice.sign_offs.filter(content_hash=current).select_related("user"))


def substitute_notice_signed(*, notice: SubstituteNotice) -> bool:
    sign_offs = substitute_notice_current_sign_offs(notice=notice)
    return (
        not substitute_notice_sign_off_blockers(notice=notice)
        and {s.role for s in sign_offs} == set(SignOffRole.values)
        and len({s.user_id for s in sign_offs}) == len(SignOffRole.values)
    )


@transaction.atomic
def substitute_notice_sign_off(
    *, notice_id: int, actor: Actor, role: str, content_hash: str
) -> SubstituteNoticeSignOff:
    """The CMO or the CISO signs exactly the texts they saw (`content_hash`): two people,
    neither a writer of the texts, one role each."""
    signer = sign_off_signer(actor=actor, role=role, what="substitute notices")
    notice = SubstituteNotice.objects.select_for_update().get(pk=notice_id)
    current = substitute_notice_content_hash(notice=notice)
    if content_hash != current:
        raise TransitionRefused(f"The texts of {notice} changed since they were shown.")
    blockers = substitute_notice_sign_off_blockers(notice=notice)
    if blockers:
        raise TransitionRefused("Cannot sign off yet: " + " ".join(blockers))
    texts = substitute_notice_texts(notice=notice).values()
    if any(signer.pk in template_version_writers(version=v) for v in texts):
        raise TransitionRefused(f"{actor} wrote or edited these texts and cannot sign them off.")
    sign_off = sign_off_record(
        model=SubstituteNoticeSignOff,
        subject={"notice": notice},
        label="these texts",
        current=substitute_notice_current_sign_offs(notice=notice),
        signer=signer,
        role=role,
        content_hash=current,
    )
    timeline_append(
        incident_id=notice.incident_id,
        kind=events.SUBSTITUTE_NOTICE_SIGNED_OFF,
        actor=signer,
        payload={"substitute_notice": notice.pk, "role": role, "content_hash": current},
    )
    return sign_off


def substitute_posting_guard(obligation: Obligation) -> str:
    """Why the substitute notice may not be posted yet ("" when it may): its texts need
    the CMO's and the CISO's sign-off first."""
    notices = SubstituteNotice.objects.filter(posting_obligation=obligation)
    if notices and not any(substitute_notice_signed(notice=n) for n in notices):
        return (
            f"{obligation.name}: the substitute notice is posted only once legal approved "
            "its texts and the CMO and the CISO signed them off."
        )
    return ""

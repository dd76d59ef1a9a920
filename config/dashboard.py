"""What the dashboard (the admin index) shows beside the incident clocks: what waits for the
signed-in person's role, and how far the running work has gone.

This module may know every app (the project app depends on all of them); the apps never
import it, so `incidents` still knows nothing of campaigns or messages.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth.models import AbstractUser, AnonymousUser
from django.db.models import Count, Exists, OuterRef, Q
from django.urls import reverse
from django.utils import timezone

from campaigns.models import Campaign, CampaignHold, CampaignSend
from campaigns.selectors import HeldCampaign, campaigns_held
from config import roles
from config.models import company_profile
from customers.models import CustomerExport, ImportJob
from incidents.models import AffectedCustomer, EvidencePack, Incident, Obligation, ScopeFigures
from incidents.selectors import DashboardRow, dashboard_incidents, scope_totals
from notifications.models import (
    Communication,
    CommunicationSignOff,
    Delivery,
    SignOffRole,
    TemplateVersion,
)
from notifications.selectors import IncidentWaves, delivery_progress, incident_waves

User = AbstractUser | AnonymousUser

# A long list on the dashboard helps nobody: the link leads to the whole of it.
LIMIT = 8


@dataclass(frozen=True)
class Waiting:
    """One thing waiting for the signed-in person, with where to do it."""

    what: str
    label: str
    url: str
    is_drill: bool = False


@dataclass(frozen=True)
class Progress:
    """A running piece of work, `done` of `total`."""

    what: str
    label: str
    url: str
    done: int
    total: int
    is_drill: bool = False

    @property
    def percent(self) -> int:
        return 100 if not self.total else min(100, round(100 * self.done / self.total))


def _role_names(user: User) -> set[str]:
    if not user.is_authenticated:
        return set()
    return set(user.groups.values_list("name", flat=True))


def _templates_to_review(user: User) -> list[Waiting]:
    # A reviewer never approves their own words, so those are not waiting for them.
    versions = (
        TemplateVersion.objects.filter(status=TemplateVersion.Status.SUBMITTED)
        .exclude(created_by_id=user.pk)
        .select_related("template__incident")
        .order_by("submitted_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Template to review",
            label=f"{v} — {v.template.incident}",
            url=reverse("admin:notifications_templateversion_review", args=[v.pk]),
            is_drill=v.template.incident.is_drill,
        )
        for v in versions
    ]


def _rejections_to_answer(user: User) -> list[Waiting]:
    """The author's versions legal rejected, with the comment, until a newer version exists."""
    newer = TemplateVersion.objects.filter(
        template_id=OuterRef("template_id"),
        language=OuterRef("language"),
        channel=OuterRef("channel"),
        number__gt=OuterRef("number"),
    )
    versions = (
        TemplateVersion.objects.filter(
            status=TemplateVersion.Status.REJECTED, created_by_id=user.pk
        )
        .exclude(Exists(newer))
        .select_related("template__incident")
        .order_by("-reviewed_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Rejected by legal",
            label=f"{v}: {v.review_comment}",
            url=reverse("admin:notifications_templateversion_new_version", args=[v.pk]),
            is_drill=v.template.incident.is_drill,
        )
        for v in versions
    ]


def _communications_to_sign(user: User, signing_roles: list[str]) -> list[Waiting]:
    signed_by_role = CommunicationSignOff.objects.filter(
        communication=OuterRef("pk"), voided_at__isnull=True, role__in=signing_roles
    )
    signed_by_user = CommunicationSignOff.objects.filter(
        communication=OuterRef("pk"), voided_at__isnull=True, user_id=user.pk or 0
    )
    communications = (
        Communication.objects.filter(status=Communication.Status.DRAFT)
        .exclude(incident__status=Incident.Status.CLOSED)
        .exclude(created_by_id=user.pk)
        .annotate(approved=Count("versions"))
        .filter(~Exists(signed_by_role), ~Exists(signed_by_user), approved__gt=0)
        .select_related("incident")
        .order_by("send_window_start")[:LIMIT]
    )
    return [
        Waiting(
            what="Communication to sign",
            label=f"{c} — {c.incident}",
            url=reverse("admin:notifications_communication_sign", args=[c.pk]),
            is_drill=c.incident.is_drill,
        )
        for c in communications
    ]


def _campaigns_held() -> list[Waiting]:
    campaigns = (
        Campaign.objects.filter(status=Campaign.Status.PAUSED, paused_by_incident__isnull=False)
        .select_related("paused_by_incident")
        .order_by("paused_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Campaign held",
            label=f"{c} — paused for {c.paused_by_incident}",
            url=reverse("admin:campaigns_campaign_overlap", args=[c.paused_by_incident_id]),
            is_drill=bool(c.paused_by_incident and c.paused_by_incident.is_drill),
        )
        for c in campaigns
    ]


def _holds_of_closed_incidents() -> list[Waiting]:
    """A hold outlives its incident until the CMO releases it: say so once it is closed."""
    holds = (
        CampaignHold.objects.filter(
            released_at__isnull=True, incident__status=Incident.Status.CLOSED
        )
        .select_related("incident")
        .order_by("placed_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Hold on a closed incident",
            label=f"{h.incident} — promotions to its affected people are still held",
            url=reverse("admin:campaigns_campaignhold_changelist")
            + f"?incident__id__exact={h.incident_id}",
            is_drill=h.incident.is_drill,
        )
        for h in holds
    ]


def _open_incidents() -> Q:
    return ~Q(status=Incident.Status.CLOSED)


def _decisions_to_record() -> list[Waiting]:
    incidents = Incident.objects.filter(_open_incidents()).filter(
        Q(art33_decision=Incident.Art33Decision.UNDECIDED)
        | Q(art34_decision=Incident.Art34Decision.UNDECIDED)
    )
    return [
        Waiting(
            what="Art. 33/34 decision to record",
            label=str(incident),
            url=reverse("admin:incidents_incident_decide", args=[incident.pk]),
            is_drill=incident.is_drill,
        )
        for incident in incidents.order_by("awareness_at")[:LIMIT]
    ]


def _filings_to_record() -> list[Waiting]:
    obligations = (
        Obligation.objects.filter(status=Obligation.Status.OPEN, due_at__isnull=False)
        .filter(incident__in=Incident.objects.filter(_open_incidents()))
        .select_related("incident")
        .order_by("due_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Obligation to meet",
            label=f"{o.name} — {o.incident}, due {o.due_at:%Y-%m-%d %H:%M} UTC",
            url=reverse("admin:incidents_obligation_meet", args=[o.pk]),
            is_drill=o.incident.is_drill,
        )
        for o in obligations
    ]


def _scopes_to_set() -> list[Waiting]:
    incidents = (
        Incident.objects.filter(_open_incidents())
        .filter(~Exists(AffectedCustomer.objects.filter(incident=OuterRef("pk"))))
        .order_by("awareness_at")[:LIMIT]
    )
    return [
        Waiting(
            what="Scope to set",
            label=str(incident),
            url=reverse("admin:incidents_incident_scope", args=[incident.pk]),
            is_drill=incident.is_drill,
        )
        for incident in incidents
    ]


def _sending_refused(user: User) -> list[Waiting]:
    """Everyone who could send sees why nothing would leave, and who can fix it there."""
    if not user.has_perm("config.view_companyprofile"):
        return []
    refusal = company_profile().send_refusal()
    if not refusal:
        return []
    url = reverse("admin:config_companyprofile_change", args=[1])
    return [Waiting(what="Sending is refused", label=refusal, url=url)]


def _stalled_work(user: User) -> list[Waiting]:
    """Work the hourly sweep found stalled and marked failed, until someone runs it again:
    an import for those who import (*Run the selected failed imports again*), a pack for
    those who build packs (a new one from the incident). Two queries, whatever the count."""
    waiting: list[Waiting] = []
    if user.has_perm("customers.import_customer"):
        retried = ImportJob.objects.filter(
            file_sha256=OuterRef("file_sha256"), created_at__gt=OuterRef("created_at")
        )
        jobs = (
            ImportJob.objects.filter(status=ImportJob.Status.FAILED, error__startswith="Stalled")
            .exclude(Exists(retried))
            .order_by("-finished_at")[:LIMIT]
        )
        waiting += [
            Waiting(
                what="Stalled import",
                label=f"{job.file_name} from {job.source} stalled and imported nothing: "
                "run it again",
                url=reverse("admin:customers_importjob_change", args=[job.pk]),
            )
            for job in jobs
        ]
    if user.has_perm("incidents.build_evidencepack"):
        newer = EvidencePack.objects.filter(
            incident_id=OuterRef("incident_id"), requested_at__gt=OuterRef("requested_at")
        )
        packs = (
            EvidencePack.objects.filter(status=EvidencePack.Status.FAILED, stage="Stalled")
            .exclude(Exists(newer))
            .select_related("incident")
            .order_by("-finished_at")[:LIMIT]
        )
        waiting += [
            Waiting(
                what="Stalled evidence pack",
                label=f"{pack.incident.title}: the pack stalled; request a new one",
                url=reverse("admin:incidents_incident_change", args=[pack.incident_id]),
                is_drill=pack.incident.is_drill,
            )
            for pack in packs
        ]
    return waiting


def dashboard_waiting(*, user: User) -> list[Waiting]:
    """What waits for this person, by the roles they hold and the rights those give."""
    names = _role_names(user)
    waiting: list[Waiting] = _sending_refused(user) + _stalled_work(user)
    if roles.SECURITY_ANALYST in names and user.has_perm("incidents.scope_incident"):
        waiting += _scopes_to_set()
    if roles.LEGAL_REVIEWER in names and user.has_perm("notifications.review_templateversion"):
        waiting += _templates_to_review(user)
    if user.has_perm("notifications.add_templateversion"):
        waiting += _rejections_to_answer(user)
    signing = [role for role in (roles.CMO, roles.CISO) if role in names]
    if signing and user.has_perm("notifications.sign_communication"):
        waiting += _communications_to_sign(user, signing)
    if names & {roles.CMO, roles.MARKETING_OPERATOR} and user.has_perm("campaigns.view_campaign"):
        waiting += _campaigns_held()
    if roles.CMO in names and user.has_perm("campaigns.resume_campaign"):
        waiting += _holds_of_closed_incidents()
    if roles.DPO in names and user.has_perm("incidents.decide_incident"):
        waiting += _decisions_to_record()
    if roles.DPO in names and user.has_perm("incidents.meet_obligation"):
        waiting += _filings_to_record()
    if user.has_perm("notifications.lookup_notification"):
        waiting.append(
            Waiting(
                what="Callers",
                label="Look a caller up by the reference on their letter or email",
                url=reverse("admin:notifications_notification_lookup"),
            )
        )
    return waiting


def dashboard_progress(*, user: User) -> list[Progress]:
    """Imports, exports, breach messages, campaign sends and evidence packs under way, each for
    those who may see them."""
    progress: list[Progress] = []
    if user.has_perm("customers.view_importjob"):
        progress += _imports()
    if user.has_perm("customers.view_customerexport"):
        progress += _exports()
    if user.has_perm("notifications.view_communication"):
        progress += _breach_message_sends()
    if user.has_perm("campaigns.view_campaign"):
        progress += _campaign_sends()
    if user.has_perm("incidents.view_evidencepack"):
        progress += _evidence_builds()
    return progress


def _breach_message_sends() -> list[Progress]:
    """Waves of breach messages not completed: messages out of all messages, each counted
    in one grouped query (or read from the task cluster's count of a large wave)."""
    deliveries = (
        Delivery.objects.exclude(status=Delivery.Status.COMPLETED)
        .select_related("communication__incident")
        .order_by("started_at")[:LIMIT]
    )
    bars = []
    for d in deliveries:
        progress = delivery_progress(communication_id=d.communication_id)
        total = progress.total if progress else 0
        bars.append(
            Progress(
                what="Breach messages",
                label=f"{d.communication} — {d.communication.incident.title}"
                + (" (paused)" if d.status == Delivery.Status.PAUSED else ""),
                url=reverse("admin:notifications_communication_change", args=[d.communication_id]),
                done=total - (progress.pending if progress else 0),
                total=total,
                is_drill=d.communication.incident.is_drill,
            )
        )
    return bars


def _evidence_builds() -> list[Progress]:
    building = [EvidencePack.Status.QUEUED, EvidencePack.Status.BUILDING]
    packs = (
        EvidencePack.objects.filter(status__in=building)
        .select_related("incident")
        .order_by("requested_at")[:LIMIT]
    )
    return [
        Progress(
            what="Evidence pack",
            label=f"{pack.incident.title}: {pack.stage or pack.get_status_display().lower()}",
            url=reverse("admin:incidents_evidencepack_change", args=[pack.pk]),
            done=pack.progress,
            total=100,
            is_drill=pack.incident.is_drill,
        )
        for pack in packs
    ]


def _imports() -> list[Progress]:
    running = [
        ImportJob.Status.PENDING,
        ImportJob.Status.RUNNING,
        ImportJob.Status.CANCEL_REQUESTED,
    ]
    jobs = ImportJob.objects.filter(status__in=running, dry_run=False).order_by("created_at")
    return [
        Progress(
            what="Customer import",
            label=f"{job.file_name} from {job.source} ({job.get_status_display().lower()})",
            url=reverse("admin:customers_importjob_change", args=[job.pk]),
            done=job.progress,
            total=100,
        )
        for job in jobs[:LIMIT]
    ]


def _exports() -> list[Progress]:
    running = [CustomerExport.Status.WAITING, CustomerExport.Status.RUNNING]
    exports = (
        CustomerExport.objects.filter(status__in=running)
        .select_related("requested_by")
        .order_by("requested_at")[:LIMIT]
    )
    return [
        Progress(
            what="Customer export",
            label=f"{export.selection} for {export.requested_by or 'a removed user'} "
            f"({export.get_status_display().lower()})",
            url=reverse("admin:customers_customerexport_change", args=[export.pk]),
            done=export.progress,
            total=100,
        )
        for export in exports
    ]


def _campaign_sends() -> list[Progress]:
    finished = [
        CampaignSend.Status.SENT,
        CampaignSend.Status.WITHHELD,
        CampaignSend.Status.SKIPPED,
        CampaignSend.Status.FAILED,
    ]
    campaigns = (
        Campaign.objects.filter(status__in=[Campaign.Status.SENDING, Campaign.Status.PAUSED])
        .annotate(
            total=Count("sends"),
            done=Count("sends", filter=Q(sends__status__in=finished)),
        )
        .filter(total__gt=0)
        .order_by("started_at")[:LIMIT]
    )
    return [
        Progress(
            what="Campaign",
            label=f"{c}{' (paused)' if c.status == Campaign.Status.PAUSED else ''}",
            url=reverse("admin:campaigns_campaign_change", args=[c.pk]),
            done=c.done,
            total=c.total,
        )
        for c in campaigns
    ]


# --- The cockpit: one card per open incident -------------------------------------------


@dataclass(frozen=True)
class WaitingOn:
    """Something an incident waits for, and the role it waits on; `url` only for those who
    may open it, `yours` when the signed-in person holds that role."""

    role: str
    what: str
    url: str = ""
    yours: bool = False


@dataclass
class IncidentCard:
    row: DashboardRow
    affected: int
    waves: IncidentWaves
    held: list[HeldCampaign] = field(default_factory=list)
    waiting: list[WaitingOn] = field(default_factory=list)
    # When the oldest kept count shown was counted (None: all counted just now).
    counted_at: datetime | None = None

    @property
    def incident(self) -> Incident:
        return self.row.incident

    @property
    def told(self) -> int:
        return self.waves.outcomes.told

    @property
    def told_percent(self) -> float:
        return round(100 * self.told / self.affected, 1) if self.affected else 0.0


def _link(user: User, permission: str, url: str) -> str:
    return url if user.has_perm(permission) else ""


def _signatures_missing(incident_ids: list[int]) -> dict[int, list[tuple[Communication, str]]]:
    """Draft communications with approved words, and the signing roles each still lacks."""
    drafts = (
        Communication.objects.filter(
            incident_id__in=incident_ids, status=Communication.Status.DRAFT
        )
        .annotate(approved=Count("versions"))
        .filter(approved__gt=0)
        .order_by("name")
    )
    signed: dict[int, set[str]] = {}
    for communication_id, role in CommunicationSignOff.objects.filter(
        communication__in=drafts, voided_at__isnull=True
    ).values_list("communication_id", "role"):
        signed.setdefault(communication_id, set()).add(role)
    missing: dict[int, list[tuple[Communication, str]]] = {}
    for communication in drafts:
        for role in SignOffRole.values:
            if role not in signed.get(communication.pk, set()):
                missing.setdefault(communication.incident_id, []).append((communication, role))
    return missing


def _waiting_on(user: User, cards: list[IncidentCard]) -> None:
    """Fill each card's list of what it waits for, and on whom: a few grouped queries."""
    mine = _role_names(user)
    ids = [card.incident.pk for card in cards]
    reviews = dict(
        TemplateVersion.objects.filter(
            template__incident_id__in=ids, status=TemplateVersion.Status.SUBMITTED
        )
        .values_list("template__incident_id")
        .annotate(n=Count("pk"))
        .order_by()
    )
    signatures = _signatures_missing(ids)
    now = timezone.now()
    for card in cards:
        incident = card.incident
        items: list[tuple[str, str, str]] = []
        if not card.affected:
            url = _link(
                user,
                "incidents.scope_incident",
                reverse("admin:incidents_incident_scope", args=[incident.pk]),
            )
            items.append((roles.SECURITY_ANALYST, "set the scope", url))
        if (
            incident.art33_decision == Incident.Art33Decision.UNDECIDED
            or incident.art34_decision == Incident.Art34Decision.UNDECIDED
        ):
            url = _link(
                user,
                "incidents.decide_incident",
                reverse("admin:incidents_incident_decide", args=[incident.pk]),
            )
            items.append((roles.DPO, "record the Art. 33/34 decisions", url))
        if card.row.overdue_obligations:
            n = card.row.overdue_obligations
            items.append(
                (roles.DPO, f"{n} obligation{'s' * (n != 1)} overdue: file, or record why", "")
            )
        if reviews.get(incident.pk):
            n = reviews[incident.pk]
            url = _link(
                user,
                "notifications.review_templateversion",
                reverse("admin:notifications_templateversion_changelist")
                + "?status__exact=submitted",
            )
            items.append(
                (roles.LEGAL_REVIEWER, f"review {n} template version{'s' * (n != 1)}", url)
            )
        for communication, role in signatures.get(incident.pk, []):
            url = _link(
                user,
                "notifications.sign_communication",
                reverse("admin:notifications_communication_sign", args=[communication.pk]),
            )
            items.append((role, f"sign off “{communication.name}”", url))
        owed = card.waves.outcomes.letters_owed
        if owed:
            url = _link(
                user,
                "notifications.add_letterbatch",
                reverse("admin:notifications_letterbatch_add"),
            )
            items.append(
                (
                    roles.MARKETING_OPERATOR,
                    f"print and post {owed:,} letter{'s' * (owed != 1)}",
                    url,
                )
            )
        if any(h.quiet_until and h.quiet_until <= now for h in card.held):
            url = _link(
                user,
                "campaigns.resume_campaign",
                reverse("admin:campaigns_campaign_overlap", args=[incident.pk]),
            )
            items.append((roles.CMO, "resume the held campaigns: the quiet period is over", url))
        card.waiting = [
            WaitingOn(role=role, what=what, url=url, yours=role in mine)
            for role, what, url in items
        ]


def cockpit(*, user: User) -> list[IncidentCard] | None:
    """Per open incident, the most urgent first: its next deadline, how many people are
    affected and what share has been told, the letters owed and posted, what the waves
    became, the campaigns it holds, and what it waits for from whom. None for someone who
    may not read incidents. A fixed number of queries, however many incidents."""
    if not user.has_perm("incidents.view_incident"):
        return None
    rows = dashboard_incidents()
    ids = [row.incident.pk for row in rows]
    totals = scope_totals(incident_ids=ids)
    waves = (
        incident_waves(incident_ids=ids)
        if user.has_perm("notifications.view_communication")
        else {pk: IncidentWaves() for pk in ids}
    )
    held = (
        campaigns_held(incidents=[row.incident for row in rows])
        if user.has_perm("campaigns.view_campaign")
        else {}
    )
    scope_counted = dict(
        ScopeFigures.objects.filter(incident_id__in=ids).values_list("incident_id", "counted_at")
    )
    cards = []
    for row in rows:
        pk = row.incident.pk
        counted = [t for t in (scope_counted.get(pk), waves[pk].counted_at) if t]
        cards.append(
            IncidentCard(
                row=row,
                affected=totals[pk],
                waves=waves[pk],
                held=held.get(pk, []),
                counted_at=min(counted) if counted else None,
            )
        )
    _waiting_on(user, cards)
    return cards

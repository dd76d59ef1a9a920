"""Building, storing and handing out evidence packs."""

import hashlib
import hmac
import json
import logging
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from config.csv_safe import csv_writer
from config.db import connection_lost
from config.models import company_profile
from config.services import Actor, ServiceError, enqueue_on_commit
from customers.pii import mask_text
from incidents.events import EVIDENCE_STALLED
from incidents.models import AffectedCustomer, EvidencePack, Filing, Incident, TimelineEvent
from incidents.selectors import ChainCheck, scope_summary, timeline_verify
from incidents.services import timeline_append
from incidents.services.checkpoints import timeline_checkpoint_write

from .registry import SectionContent, evidence_customer_statuses, evidence_sections
from .render import StaticOnlyFetcher, pdf_render
from .sections import when
from .signing import pdf_sign, signer_name, signing_configured

logger = logging.getLogger(__name__)

Progress = Callable[[int, str], None]
NOT_NOTIFIED = "not notified"
TIMELINE_ANNEX = "timeline.json"
CUSTOMERS_ANNEX = "affected-customers.csv"
# Progress is saved this often while the customers annex is written.
PROGRESS_EVERY = 100_000


class EvidenceError(ServiceError, ValueError):
    """The pack cannot be built or handed out as asked; the message says why."""


def pseudonym_key() -> bytes:
    """A key of its own for pseudonyms, derived from SECRET_KEY: the annex cannot be joined
    back to customers without the server's secret."""
    return hmac.new(
        settings.SECRET_KEY.encode(), b"incidents.evidence.pseudonym", hashlib.sha256
    ).digest()


def customer_pseudonym(*, key: bytes, incident_id: int, customer_id: int) -> str:
    """HMAC-SHA256 of the customer id, scoped to the incident so packs of two incidents
    cannot be matched person by person."""
    return hmac.new(key, f"{incident_id}:{customer_id}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Annex:
    path: Path
    name: str
    description: str
    sha256: str
    size: int
    rows: int


def _digest_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _timeline_rows(incident_id: int) -> Iterator[dict[str, Any]]:
    events = (
        TimelineEvent.objects.filter(incident_id=incident_id)
        .order_by("seq")
        .values("seq", "occurred_at", "actor_label", "kind", "payload", "prev_hash", "hash")
    )
    for event in events.iterator(chunk_size=2000):
        yield dict(event)


def annex_timeline_write(*, path: Path, incident_id: int, check: ChainCheck) -> Annex:
    """Every event with its hashes, one JSON document written event by event."""
    rows = 0
    with path.open("w", encoding="utf-8") as out:
        header = {
            "incident": incident_id,
            "chain_verified": check.ok,
            "first_broken_seq": check.first_broken_seq,
            "problem": check.problem,
            "head_hash": check.head_hash,
            "hash": "HMAC-SHA256 under the timeline key (TIMELINE_HMAC_KEY, kept outside the "
            "database) over canonical JSON of incident, seq, occurred_at, actor, kind, "
            "payload, prev_hash (sorted keys, no whitespace, UTF-8)",
        }
        out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "events": [\n')
        for event in _timeline_rows(incident_id):
            out.write(",\n" if rows else "")
            event["actor"] = event.pop("actor_label")
            out.write(json.dumps(event, cls=DjangoJSONEncoder, ensure_ascii=False, sort_keys=True))
            rows += 1
        out.write("\n]}\n")
    return Annex(
        path=path,
        name=TIMELINE_ANNEX,
        description="The incident timeline with sequence numbers and hashes (JSON)",
        sha256=_digest_file(path),
        size=path.stat().st_size,
        rows=rows,
    )


def _merged_statuses(incident_id: int) -> Iterator[tuple[int, list[str], str]]:
    """Affected people with their notice status: a merge of two streams ordered by customer
    id, so a million people are never held in memory at once."""
    statuses = iter(evidence_customer_statuses(incident_id))
    pending = next(statuses, None)
    affected = (
        AffectedCustomer.objects.filter(incident_id=incident_id)
        .order_by("customer_id")
        .values_list("customer_id", "data_categories")
    )
    for customer_id, categories in affected.iterator(chunk_size=20_000):
        while pending is not None and pending[0] < customer_id:
            pending = next(statuses, None)
        status = pending[1] if pending is not None and pending[0] == customer_id else NOT_NOTIFIED
        yield customer_id, categories, status


def annex_customers_write(*, path: Path, incident_id: int, progress: Progress, total: int) -> Annex:
    """Pseudonymous id, data categories and notice status per person; no names, no emails."""
    key = pseudonym_key()
    rows = 0
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv_writer(out)
        writer.writerow(["pseudonymous_id", "data_categories", "notice_status"])
        for customer_id, categories, status in _merged_statuses(incident_id):
            writer.writerow(
                [
                    customer_pseudonym(key=key, incident_id=incident_id, customer_id=customer_id),
                    ";".join(categories),
                    status,
                ]
            )
            rows += 1
            if rows % PROGRESS_EVERY == 0:
                progress(20 + int(40 * rows / max(total, 1)), f"Customers annex: {rows:,} rows")
    return Annex(
        path=path,
        name=CUSTOMERS_ANNEX,
        description="Affected people: HMAC-SHA256 pseudonym, data categories, notice status (CSV)",
        sha256=_digest_file(path),
        size=path.stat().st_size,
        rows=rows,
    )


@dataclass(frozen=True)
class Rendered:
    pdf: bytes
    check: ChainCheck
    affected: int
    timings: dict[str, float]
    refused: list[str]


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026 (in timeline.json)"


def _filed_notices(incident_id: int) -> list[tuple[Any, str, str]]:
    """Each notice as filed, embedded byte for byte (its SHA-256 is listed in the pack)."""
    found = []
    for filing in Filing.objects.filter(notice__incident_id=incident_id).select_related("notice"):
        try:
            path = filing.file.path
        except NotImplementedError:  # a storage without local paths: listed, not embedded
            continue
        found.append(
            (
                path,
                f"notice-{filing.notice.number}-{filing.reference}.pdf",
                f"Notice {filing.notice.number} as filed with {filing.authority}",
            )
        )
    return found


# What happened, in sentences: a reader should not need the event codes.
SENTENCES = {
    "incident.opened": "{actor} opened the incident.",
    "incident.updated": "{actor} updated the incident record.",
    "assessment.recorded": "{actor} recorded a severity assessment.",
    "scope.set": "{actor} set the scope of affected customers.",
    "obligation.created": "A notification obligation arose ({p[regime]}).",
    "obligation.met": "{actor} recorded an obligation as met.",
    "notice.drafted": "{actor} drafted notice {p[number]} to {authority}.",
    "notice.edited": "{actor} edited the draft of a regulator notice.",
    "notice.filed": "{actor} recorded notice {p[number]} as filed with {p[authority]} "
    "(reference {p[reference]}).",
    "communication.signed_off": "{actor} signed off a communication as {p[role]}.",
    "communication.approved": "The communication was approved by both the CMO and the CISO.",
    "delivery.started": "{actor} started sending the breach notice.",
    "delivery.completed": "The breach notice wave completed.",
    "delivery.letters_built": "A batch of {p[letters]} letters was built for the post.",
    "delivery.letters_posted": "{actor} recorded {p[letters]} letters as posted.",
    "company_profile.changed": "{actor} changed the company profile.",
    "evidence.ready": "An evidence pack was built.",
}


def chronology_sentences(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(when, sentence) for each event; an unknown kind is named by its code."""
    lines = []
    for event in events:
        payload = event["payload"] if isinstance(event["payload"], dict) else {}
        template = SENTENCES.get(event["kind"])
        actor = event["actor_label"] if event["actor_label"] != "system" else "Breachdesk"
        try:
            sentence = (
                template.format(
                    actor=actor,
                    p=payload,
                    authority=payload.get("authority") or "the authority",
                )
                if template
                else f"{actor}: {event['kind'].replace('.', ' ').replace('_', ' ')}."
            )
        except (KeyError, IndexError):
            sentence = f"{actor}: {event['kind'].replace('.', ' ').replace('_', ' ')}."
        lines.append((f"{event['occurred_at']:%Y-%m-%d %H:%M} UTC", sentence))
    return lines


def evidence_pack_html(
    *,
    incident: Incident,
    check: ChainCheck,
    sections: list[tuple[str, SectionContent]],
    annexes: list[Annex],
    affected: int,
) -> str:
    events = [
        {
            **event,
            "payload_text": _clip(
                json.dumps(event["payload"], cls=DjangoJSONEncoder, ensure_ascii=False)
            ),
        }
        for event in _timeline_rows(incident.pk)
    ]
    return render_to_string(
        "incidents/evidence/pack.html",
        {
            "incident": incident,
            "check": check,
            "sections": sections,
            "annexes": annexes,
            "affected": affected,
            "events": events,
            "built_at": when(timezone.now()),
            "awareness": when(incident.awareness_at),
            "company": company_profile(),
            "signer": signer_name(),
            "chronology": chronology_sentences(events),
            "filings": Filing.objects.filter(notice__incident=incident)
            .select_related("notice")
            .order_by("filed_at"),
        },
    )


def evidence_pack_render(*, incident_id: int, progress: Progress | None = None) -> Rendered:
    """The pack as PDF/A bytes: verify the chain, gather every section, write the annexes
    to temporary files (streamed), lay out the HTML and embed the annexes."""
    report = progress or (lambda percent, stage: None)
    timings: dict[str, float] = {}
    started = time.perf_counter()
    incident = Incident.objects.get(pk=incident_id)
    report(5, "Verifying the timeline")
    check = timeline_verify(incident_id=incident_id)
    report(10, "Gathering sections")
    sections = [(s.title, s.provider(incident_id)) for s in evidence_sections()]
    affected = scope_summary(incident_id=incident_id, live=True).total
    timings["gather"] = time.perf_counter() - started
    with tempfile.TemporaryDirectory(prefix="evidence-") as tmp:
        mark = time.perf_counter()
        report(15, "Timeline annex")
        timeline = annex_timeline_write(
            path=Path(tmp) / TIMELINE_ANNEX, incident_id=incident_id, check=check
        )
        customers = annex_customers_write(
            path=Path(tmp) / CUSTOMERS_ANNEX,
            incident_id=incident_id,
            progress=report,
            total=affected,
        )
        annexes = [timeline, customers]
        timings["annexes"] = time.perf_counter() - mark
        report(65, "Laying out the document")
        mark = time.perf_counter()
        html = evidence_pack_html(
            incident=incident, check=check, sections=sections, annexes=annexes, affected=affected
        )
        fetcher = StaticOnlyFetcher()
        pdf = pdf_render(
            html=html,
            fetcher=fetcher,
            attachments=[(a.path, a.name, a.description) for a in annexes]
            + _filed_notices(incident_id),
        )
        if signing_configured():
            report(90, "Signing")
            pdf = pdf_sign(pdf=pdf, reason=f"Evidence pack of incident {incident.reference}")
        timings["render"] = time.perf_counter() - mark
    timings["total"] = time.perf_counter() - started
    return Rendered(
        pdf=pdf, check=check, affected=affected, timings=timings, refused=fetcher.refused
    )


def _require(actor: Actor, permission: str, what: str) -> User:
    if not isinstance(actor, User) or not actor.has_perm(permission):
        raise EvidenceError(f"{actor or 'Nobody'} may not {what}.")
    return actor


@transaction.atomic
def evidence_pack_request(*, incident_id: int, actor: Actor) -> EvidencePack:
    """Queue a new pack; the task cluster builds it after the commit."""
    user = _require(actor, "incidents.build_evidencepack", "build evidence packs")
    incident = Incident.objects.select_for_update().get(pk=incident_id)
    pack = EvidencePack.objects.create(incident=incident, built_by=user, stage="Queued")
    timeline_append(
        incident_id=incident_id,
        kind="evidence.requested",
        actor=user,
        payload={"pack": pack.pk},
    )
    enqueue_on_commit("incidents.evidence.tasks.evidence_pack_build_task", pack.pk)
    return pack


def _progress_saver(pack_id: int) -> Progress:
    def save(percent: int, stage: str) -> None:
        EvidencePack.objects.filter(pk=pack_id, status=EvidencePack.Status.BUILDING).update(
            progress=min(percent, 99), stage=stage[:200]
        )

    return save


def evidence_pack_build(*, pack_id: int) -> EvidencePack:
    """Build a queued pack. Safe to run twice: only the run that moves it to building does
    the work. A build older than the task timeout was killed with its worker, so the
    broker's redelivery takes it over."""
    stale = timezone.now() - timedelta(seconds=settings.Q_CLUSTER["timeout"])
    claimable = Q(status=EvidencePack.Status.QUEUED) | Q(
        status=EvidencePack.Status.BUILDING, started_at__lt=stale
    )
    claimed = EvidencePack.objects.filter(claimable, pk=pack_id).update(
        status=EvidencePack.Status.BUILDING,
        started_at=timezone.now(),
        progress=1,
        stage="Starting",
    )
    pack = EvidencePack.objects.get(pk=pack_id)
    if not claimed:
        return pack
    try:
        rendered = evidence_pack_render(
            incident_id=pack.incident_id, progress=_progress_saver(pack_id)
        )
        _progress_saver(pack_id)(95, "Storing")
        digest = hashlib.sha256(rendered.pdf).hexdigest()
        name = default_storage.save(
            f"evidence/incident-{pack.incident_id}-pack-{pack.pk}.pdf", ContentFile(rendered.pdf)
        )
    except Exception as error:
        if connection_lost(error):
            # Nothing can be written on a dropped connection: the queue hands the task out
            # again after Q_RETRY, and that run takes the stale build over.
            logger.warning("Evidence pack %s: database connection lost; will retry", pack_id)
            raise
        logger.exception("Evidence pack %s failed", pack_id)
        with transaction.atomic():
            EvidencePack.objects.filter(pk=pack_id, status=EvidencePack.Status.BUILDING).update(
                status=EvidencePack.Status.FAILED,
                error=mask_text(f"{type(error).__name__}: {error}"),
                finished_at=timezone.now(),
                stage="Failed",
            )
            timeline_append(
                incident_id=pack.incident_id,
                kind="evidence.failed",
                actor=None,
                payload={"pack": pack.pk, "error": type(error).__name__},
            )
        pack.refresh_from_db()
        return pack
    try:
        _pack_ready_record(pack, name=name, digest=digest, rendered=rendered)
    except Exception as error:
        # No file without its record; a later run stores its own. A connection lost during
        # the commit leaves it unknown whether the record was written: keep the file then.
        if not connection_lost(error):
            default_storage.delete(name)
        raise
    pack.refresh_from_db()
    return pack


@transaction.atomic
def _pack_ready_record(pack: EvidencePack, *, name: str, digest: str, rendered: Rendered) -> None:
    updated = EvidencePack.objects.filter(pk=pack.pk, status=EvidencePack.Status.BUILDING).update(
        status=EvidencePack.Status.READY,
        progress=100,
        stage="Ready",
        file=name,
        sha256=digest,
        size=len(rendered.pdf),
        head_hash=rendered.check.head_hash,
        chain_ok=rendered.check.ok,
        first_broken_seq=rendered.check.first_broken_seq,
        affected=rendered.affected,
        timings={k: round(v, 3) for k, v in rendered.timings.items()},
        finished_at=timezone.now(),
    )
    if updated != 1:
        raise EvidenceError(f"Evidence pack {pack.pk} changed while it was being built.")
    # The head the pack ends with (its own "built" event) is also kept outside the
    # database: a later deletion of this tail shows against it. A failed write is logged
    # and leaves the pack as built; the hourly checkpoint writes it again.
    incident_id = pack.incident_id
    transaction.on_commit(
        lambda: timeline_checkpoint_write(incident_ids=[incident_id]), robust=True
    )
    timeline_append(
        incident_id=pack.incident_id,
        kind="evidence.built",
        actor=None,
        payload={
            "pack": pack.pk,
            "sha256": digest,
            "head_hash": rendered.check.head_hash,
            "chain_verified": rendered.check.ok,
            "first_broken_seq": rendered.check.first_broken_seq,
        },
    )


@transaction.atomic
def evidence_packs_mark_stalled(*, started_before: datetime) -> list[int]:
    """Mark packs still building since before `started_before` as failed, each on its
    incident's timeline, and return them. Every live attempt restarted the clock (the
    build claims with `started_at=now`), so one older than the threshold has no worker
    left; a new pack is requested from the incident page."""
    stalled = list(
        EvidencePack.objects.select_for_update(skip_locked=True)
        .filter(status=EvidencePack.Status.BUILDING, started_at__lt=started_before)
        .values_list("pk", "incident_id", "started_at")
    )
    for pk, incident_id, started_at in stalled:
        EvidencePack.objects.filter(pk=pk, status=EvidencePack.Status.BUILDING).update(
            status=EvidencePack.Status.FAILED,
            error=f"Stalled: building since {started_at:%Y-%m-%d %H:%M} UTC with no result.",
            finished_at=timezone.now(),
            stage="Stalled",
        )
        timeline_append(
            incident_id=incident_id,
            kind=EVIDENCE_STALLED,
            actor=None,
            payload={"pack": pk, "started_at": started_at},
        )
    return [pk for pk, _incident, _started in stalled]


@transaction.atomic
def evidence_pack_download(*, pack_id: int, actor: Actor) -> EvidencePack:
    """Hand out a ready pack; each download is written to the incident's timeline."""
    user = _require(actor, "incidents.view_evidencepack", "download evidence packs")
    pack = EvidencePack.objects.select_related("incident").get(pk=pack_id)
    if pack.status != EvidencePack.Status.READY:
        raise EvidenceError(f"{pack} is {pack.get_status_display().lower()}, not ready.")
    timeline_append(
        incident_id=pack.incident_id,
        kind="evidence.downloaded",
        actor=user,
        payload={"pack": pack.pk, "sha256": pack.sha256},
    )
    return pack

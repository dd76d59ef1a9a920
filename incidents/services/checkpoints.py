"""Chain heads kept outside the database.

The database's own roles cannot be trusted to keep evidence of what was in the database:
whoever can delete the last events of a chain leaves a shorter chain that verifies. So each
incident's head (sequence number and hash) is written, signed with the timeline key, to an
append-only file under TIMELINE_CHECKPOINT_DIR (one per UTC day) and to the log: hourly by
the task cluster and whenever an evidence pack is built. `timeline_verify` holds the chain
against every checkpoint it finds: an event missing, or different from what a checkpoint
saw, is reported. Where a TSA is configured, each line also carries an RFC 3161 token over
its digest (see `timestamps`).
"""

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from incidents.models import TimelineEvent

from .timeline import timeline_digest
from .timestamps import checkpoint_timestamp_request, tsa_configured

logger = logging.getLogger("breachdesk.timeline.checkpoint")

FILE_PREFIX = "timeline-"


@dataclass(frozen=True)
class Checkpoint:
    incident_id: int
    seq: int
    hash: str
    written_at: str
    # False when the line's signature does not match: the file was edited.
    signed: bool
    # SHA-256 of the signed line (its fields and signature), what a TSA token is over.
    digest: bytes = b""
    # The TSA's token over `digest`, base64 DER; empty when none was configured or it failed.
    timestamp: str = ""


def _line_digest(*, incident_id: int, seq: int, head_hash: str, written_at: str, mac: str) -> bytes:
    document = json.dumps(
        {"incident": incident_id, "seq": seq, "hash": head_hash, "at": written_at, "mac": mac},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return hashlib.sha256(document).digest()


def _signature(*, incident_id: int, seq: int, head_hash: str, written_at: str) -> str:
    document = json.dumps(
        {"incident": incident_id, "seq": seq, "hash": head_hash, "at": written_at},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()
    return timeline_digest(b"checkpoint:" + document)


def checkpoint_dir() -> Path:
    return Path(settings.TIMELINE_CHECKPOINT_DIR)


def checkpoints_read(*, incident_id: int | None = None) -> list[Checkpoint]:
    """Every checkpoint in the directory (of one incident, if given), oldest first.

    A line that is not a checkpoint at all (a torn write) is skipped; one whose signature
    fails is returned unsigned, for the verification to report.
    """
    directory = checkpoint_dir()
    if not directory.is_dir():
        return []
    found: list[Checkpoint] = []
    for path in sorted(directory.glob(f"{FILE_PREFIX}*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                try:
                    row = json.loads(line)
                    checkpoint = Checkpoint(
                        incident_id=int(row["incident"]),
                        seq=int(row["seq"]),
                        hash=str(row["hash"]),
                        written_at=str(row["at"]),
                        signed=False,
                    )
                    mac = str(row["mac"])
                    timestamp = str(row.get("tsr", ""))
                except (ValueError, KeyError, TypeError):
                    continue
                if incident_id is not None and checkpoint.incident_id != incident_id:
                    continue
                expected = _signature(
                    incident_id=checkpoint.incident_id,
                    seq=checkpoint.seq,
                    head_hash=checkpoint.hash,
                    written_at=checkpoint.written_at,
                )
                digest = _line_digest(
                    incident_id=checkpoint.incident_id,
                    seq=checkpoint.seq,
                    head_hash=checkpoint.hash,
                    written_at=checkpoint.written_at,
                    mac=mac,
                )
                found.append(
                    replace(
                        checkpoint,
                        signed=hmac.compare_digest(mac, expected),
                        digest=digest,
                        timestamp=timestamp,
                    )
                )
    return found


def timeline_checkpoint_write(*, incident_ids: Iterable[int] | None = None) -> int:
    """Write the head of each incident's chain (of the given ones, else all) that moved
    since its last checkpoint; return how many were written.

    The file is opened for appending only and readable by this user only; each line is
    also logged, a second copy outside the database. With TIMELINE_TSA_URL set, each line
    carries the TSA's token (`tsr`); once the TSA fails, the remaining lines of this write
    go without one rather than wait on it again.
    """
    heads = TimelineEvent.objects.filter(
        seq=Subquery(
            TimelineEvent.objects.filter(incident_id=OuterRef("incident_id"))
            .order_by("-seq")
            .values("seq")[:1]
        )
    )
    if incident_ids is not None:
        heads = heads.filter(incident_id__in=list(incident_ids))
    last_seen = {c.incident_id: (c.seq, c.hash) for c in checkpoints_read() if c.signed}
    written_at = timezone.now().astimezone(UTC).isoformat()
    lines = []
    stamping = tsa_configured()
    for incident_id, seq, head_hash in heads.values_list("incident_id", "seq", "hash"):
        if last_seen.get(incident_id) == (seq, head_hash):
            continue
        mac = _signature(
            incident_id=incident_id, seq=seq, head_hash=head_hash, written_at=written_at
        )
        row: dict[str, object] = {
            "incident": incident_id,
            "seq": seq,
            "hash": head_hash,
            "at": written_at,
            "mac": mac,
        }
        if stamping:
            digest = _line_digest(
                incident_id=incident_id,
                seq=seq,
                head_hash=head_hash,
                written_at=written_at,
                mac=mac,
            )
            try:
                row["tsr"] = checkpoint_timestamp_request(digest=digest)
            except Exception:
                # The checkpoint matters more than its timestamp: write it without one.
                logger.warning(
                    "timeline checkpoint: no timestamp from %s; written without",
                    settings.TIMELINE_TSA_URL,
                    exc_info=True,
                )
                stamping = False
        lines.append(json.dumps(row, sort_keys=True))
    if not lines:
        return 0
    directory = checkpoint_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / f"{FILE_PREFIX}{datetime.now(UTC):%Y-%m-%d}.jsonl"
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as out:
        out.write("".join(line + "\n" for line in lines))
        out.flush()
        os.fsync(out.fileno())
    for line in lines:
        logger.info("timeline checkpoint %s", line)
    return len(lines)

"""Requesting, building (in the background, with progress) and downloading evidence packs."""

import hashlib
from datetime import timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from config import roles
from incidents.evidence.services import (
    EvidenceError,
    evidence_pack_build,
    evidence_pack_download,
    evidence_pack_render,
    evidence_pack_request,
)
from incidents.models import EvidencePack, TimelineEvent
from tests.conftest import wait_until

from .evidence_scenario import full_incident


def kinds(incident) -> list[str]:
    return list(
        TimelineEvent.objects.filter(incident=incident)
        .order_by("seq")
        .values_list("kind", flat=True)
    )


@pytest.mark.django_db
def test_pack_is_built_once_stored_with_its_sha256_and_each_download_is_on_the_timeline(
    make_user, django_capture_on_commit_callbacks
):
    incident = full_incident(make_user).incident
    ciso = make_user("ciso2", roles.CISO)
    with django_capture_on_commit_callbacks() as callbacks:
        pack = evidence_pack_request(incident_id=incident.pk, actor=ciso)
    assert len(callbacks) == 1  # the build is enqueued after the commit
    assert kinds(incident)[-1] == "evidence.requested"

    built = evidence_pack_build(pack_id=pack.pk)
    again = evidence_pack_build(pack_id=pack.pk)

    assert (built.status, built.progress, again.sha256) == ("ready", 100, built.sha256)
    with built.file.open("rb") as handle:
        data = handle.read()
    assert hashlib.sha256(data).hexdigest() == built.sha256 and len(data) == built.size
    assert built.chain_ok is True and built.affected == 6
    assert kinds(incident).count("evidence.built") == 1

    for role in (roles.CMO, roles.DPO, roles.AUDITOR, roles.CISO):
        evidence_pack_download(pack_id=pack.pk, actor=make_user(f"reader-{role}", role))
    downloads = TimelineEvent.objects.filter(incident=incident, kind="evidence.downloaded")
    assert downloads.count() == 4
    assert all(event.payload["sha256"] == built.sha256 for event in downloads)


@pytest.mark.django_db
def test_build_reports_its_progress_stage_by_stage(make_user, monkeypatch):
    incident = full_incident(make_user).incident
    monkeypatch.setattr("incidents.evidence.services.PROGRESS_EVERY", 2)
    reported: list[tuple[int, str]] = []

    evidence_pack_render(incident_id=incident.pk, progress=lambda p, s: reported.append((p, s)))

    percents = [p for p, _ in reported]
    assert percents == sorted(percents) and percents[-1] < 100
    stages = [s for _, s in reported]
    assert stages[0] == "Verifying the timeline" and stages[-1] == "Laying out the document"
    assert "Customers annex: 6 rows" in stages


@pytest.mark.django_db
def test_pack_is_refused_to_roles_without_the_permission(make_user):
    incident = full_incident(make_user).incident
    analyst = make_user("ana", roles.SECURITY_ANALYST)
    marketing = make_user("mark", roles.MARKETING_OPERATOR)
    auditor = make_user("audrey", roles.AUDITOR)
    with pytest.raises(EvidenceError, match="may not build"):
        evidence_pack_request(incident_id=incident.pk, actor=auditor)
    pack = evidence_pack_request(incident_id=incident.pk, actor=make_user("d2", roles.DPO))
    with pytest.raises(EvidenceError, match="not ready"):
        evidence_pack_download(pack_id=pack.pk, actor=auditor)
    evidence_pack_build(pack_id=pack.pk)
    for outsider in (analyst, marketing, None):
        with pytest.raises(EvidenceError, match="may not download"):
            evidence_pack_download(pack_id=pack.pk, actor=outsider)
    assert not TimelineEvent.objects.filter(kind="evidence.downloaded").exists()


@pytest.mark.django_db
def test_build_killed_with_its_worker_is_taken_over_but_a_live_one_is_not(make_user, settings):
    incident = full_incident(make_user).incident
    pack = evidence_pack_request(incident_id=incident.pk, actor=make_user("d5", roles.DPO))
    timeout = timedelta(seconds=settings.Q_CLUSTER["timeout"])
    EvidencePack.objects.filter(pk=pack.pk).update(
        status="building", started_at=timezone.now() - timeout / 2
    )
    assert evidence_pack_build(pack_id=pack.pk).status == "building"

    EvidencePack.objects.filter(pk=pack.pk).update(started_at=timezone.now() - timeout * 2)
    assert evidence_pack_build(pack_id=pack.pk).status == "ready"


@pytest.mark.django_db
def test_failed_build_is_recorded_not_hidden(make_user, monkeypatch):
    incident = full_incident(make_user).incident
    pack = evidence_pack_request(incident_id=incident.pk, actor=make_user("d3", roles.DPO))

    def broken(**kwargs):
        raise OSError("disk full writing the row of ada.lovelace@example.org")

    monkeypatch.setattr("incidents.evidence.services.evidence_pack_render", broken)
    failed = evidence_pack_build(pack_id=pack.pk)

    assert failed.status == "failed" and "disk full" in failed.error
    # The auditor and the CISO read the error: contact data in it is masked.
    assert "a***@e***.org" in failed.error and "ada.lovelace" not in failed.error
    assert kinds(incident)[-1] == "evidence.failed"


@pytest.mark.django_db
def test_admin_builds_shows_and_downloads_the_pack_for_the_roles(make_user, client):
    incident = full_incident(make_user).incident
    cmo = make_user("cmo2", roles.CMO)
    client.force_login(cmo)
    response = client.post(reverse("admin:incidents_evidencepack_add"), {"incident": incident.pk})
    pack = EvidencePack.objects.get()
    assert response.status_code == 302 and pack.status == "queued"
    pack = evidence_pack_build(pack_id=pack.pk)

    for role in (roles.CMO, roles.AUDITOR):
        client.force_login(make_user(f"dl-{role}", role))
        listing = client.get(
            reverse("admin:incidents_evidencepack_changelist"), {"q": "Credential"}
        )
        assert listing.status_code == 200 and b"Download" in listing.content
        page = client.get(reverse("admin:incidents_evidencepack_change", args=[pack.pk]))
        assert page.status_code == 200 and pack.sha256.encode() in page.content
        download = client.get(reverse("admin:incidents_evidencepack_download", args=[pack.pk]))
        assert download.status_code == 200
        assert hashlib.sha256(b"".join(download.streaming_content)).hexdigest() == pack.sha256

    client.force_login(make_user("mo2", roles.MARKETING_OPERATOR))
    assert (
        client.get(reverse("admin:incidents_evidencepack_download", args=[pack.pk])).status_code
        == 403
    )
    client.force_login(make_user("aud2", roles.AUDITOR))
    assert client.get(reverse("admin:incidents_evidencepack_add")).status_code == 403
    assert TimelineEvent.objects.filter(incident=incident, kind="evidence.downloaded").count() == 2


@pytest.mark.slow
def test_task_cluster_builds_the_pack_in_the_background_with_progress(make_user, task_cluster):
    incident = full_incident(make_user).incident
    pack = evidence_pack_request(incident_id=incident.pk, actor=make_user("d4", roles.DPO))

    def ready() -> bool:
        pack.refresh_from_db()
        return pack.status == EvidencePack.Status.READY

    task_cluster.start(workers=2)
    wait_until(ready, timeout=120, message="the cluster did not build the pack")

    assert pack.progress == 100 and pack.stage == "Ready" and pack.sha256
    assert set(pack.timings) >= {"gather", "annexes", "render", "total"}
    assert kinds(incident).count("evidence.built") == 1
    connection.close()

"""The hold, end to end: a real task cluster mails through a real SMTP server on loopback
while another thread sets an incident's scope."""

import threading

import pytest
from django.db import connection
from django.utils import timezone

from campaigns.models import Campaign, CampaignSend, Withholding
from campaigns.services import campaign_start
from tests.campaigns.factories import (
    CampaignFactory,
    CustomerFactory,
    IncidentFactory,
    scope_write,
    segment_with,
)
from tests.conftest import wait_until

BATCH_SIZE = 5
PARALLEL_BATCHES = 2


@pytest.mark.slow
def test_after_the_scope_commits_no_promotion_reaches_an_affected_customer(
    smtp_server, task_cluster, settings
):
    # The cluster must go on sending, so that the hold is proven at the batch claim and not
    # by the pause.
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = False
    task_cluster.env.update(
        CAMPAIGNS_BATCH_SIZE=str(BATCH_SIZE),
        CAMPAIGNS_PARALLEL_BATCHES=str(PARALLEL_BATCHES),
        CAMPAIGNS_BATCH_PAUSE_SECONDS="0.4",
        CAMPAIGNS_AUTO_PAUSE_ON_SCOPE="false",
    )
    customers = CustomerFactory.create_batch(120)
    affected = customers[1::2]
    affected_emails = {c.email for c in affected}
    campaign = CampaignFactory.create(segments=[segment_with(customers)])
    incident = IncidentFactory.create()
    task_cluster.start(workers=2)
    campaign_start(campaign_id=campaign.pk, actor=None)
    wait_until(
        lambda: len(smtp_server.messages) >= 2 * BATCH_SIZE,
        timeout=90,
        message="the cluster never started mailing",
    )

    committed: dict[str, object] = {}

    def set_scope() -> None:
        try:
            scope_write(incident, affected)
            committed["at"] = timezone.now()
            committed["received"] = len(smtp_server.messages)
        finally:
            connection.close()

    thread = threading.Thread(target=set_scope)
    thread.start()
    thread.join(timeout=60)
    assert "at" in committed, "setting the scope failed"
    wait_until(
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.COMPLETED,
        timeout=180,
        message="the campaign never completed",
    )

    received = smtp_server.recipients()
    after_commit = received[int(committed["received"]) :]  # type: ignore[call-overload]
    affected_after_commit = [r for r in after_commit if r in affected_emails]
    affected_sent = CampaignSend.objects.filter(
        campaign=campaign, customer__in=affected, status=CampaignSend.Status.SENT
    )
    # The scope landed mid-campaign: some affected people were mailed before, most not.
    assert 0 < affected_sent.count() < len(affected)
    # What reached an affected customer after the commit was claimed before it: the batches
    # in flight, at most one per chain.
    assert len(affected_after_commit) <= BATCH_SIZE * PARALLEL_BATCHES
    assert not affected_sent.filter(claimed_at__gte=committed["at"]).exists()
    # The inbox and the ledger agree: every message once, and nobody outside the scope lost.
    assert sorted(received) == sorted(
        CampaignSend.objects.filter(campaign=campaign, status="sent").values_list(
            "customer__email", flat=True
        )
    )
    assert {c.email for c in customers if c not in affected} <= set(received)
    withheld = Withholding.objects.filter(campaign=campaign, incident=incident).count()
    assert withheld == len(affected) - affected_sent.count()
    assert withheld == CampaignSend.objects.filter(campaign=campaign, status="withheld").count()
    assert len(set(affected_emails) & set(received)) == affected_sent.count()

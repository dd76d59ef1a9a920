import pytest
from django.core.mail import EmailMessage

from config.drills import DrillWithoutRecipientsError, drill_message_redirect


def test_a_drill_message_goes_only_to_the_drill_addresses_marked_as_a_drill(settings):
    settings.DRILL_RECIPIENTS = ["drill@corp.example", " soc@corp.example "]
    message = EmailMessage(
        subject="About your data",
        body="b",
        to=["customer@example.org"],
        cc=["cc@example.org"],
        bcc=["bcc@example.org"],
        headers={"Message-ID": "<n-1@breachdesk.invalid>"},
    )

    drill_message_redirect(message)

    assert message.recipients() == ["drill@corp.example", "soc@corp.example"]
    assert message.subject == "[DRILL] About your data"
    sent = message.message()
    assert sent["X-Breachdesk-Drill"] == "yes"
    assert sent["X-Breachdesk-Drill-Intended-For"] == "customer@example.org"
    assert sent["Message-ID"] == "<n-1@breachdesk.invalid>"


def test_a_drill_without_drill_addresses_sends_nothing(settings):
    settings.DRILL_RECIPIENTS = []
    message = EmailMessage(subject="s", body="b", to=["customer@example.org"])

    with pytest.raises(DrillWithoutRecipientsError, match="DRILL_RECIPIENTS is empty"):
        drill_message_redirect(message)

    assert message.to == ["customer@example.org"]

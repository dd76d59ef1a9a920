"""The demo tells the story: customers from the sample CRM exports, campaigns running, and
one breach half-way through (scoped from a forensic list, campaigns held, one message
approved and waiting for sign-off, another waiting for legal).

Every step goes through the apps' own services, as a person in the admin would, and each
one is skipped when its result is already there, so `seed_demo` can run again and again.
"""

import io
import json
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import OutputWrapper
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import campaign_start
from customers.models import ImportJob, Segment
from customers.services import import_job_create, import_job_run
from incidents.models import Incident
from incidents.services import assessment_record, incident_open, scope_add_forensic_list
from notifications.models import Channel, Communication, TemplateVersion
from notifications.services import (
    communication_create,
    template_create,
    template_version_approve,
    template_version_submit,
)

DATA = Path(__file__).resolve().parent / "demo_data"
TRUTH = json.loads((DATA / "truth.json").read_text(encoding="utf-8"))

# Which segment each export's people join: the newsletter list and the shop's customers.
SEGMENTS = {
    "salesforce_contacts.csv": "Newsletter",
    "hubspot_contacts.csv": "Newsletter",
    "dynamics_contacts.xlsx": "Newsletter",
    "zoho_contacts.csv": "Newsletter",
    "shop_kunden.csv": "Shop customers",
}

STORY_TITLE = "Demo: customer database exposed on a test server"

# A message legal can approve: every variable Art. 34(2) asks for, and the reset link
# leaked passwords need.
TEXT_BODY = """Dear {{ customer.full_name }},

We are writing to tell you about a breach of your personal data. {{ incident.nature }}

What this may mean for you: {{ incident.likely_consequences }}
What we have done: {{ incident.measures_taken }}
What you can do: {{ incident.measures_proposed }}
{% if affected_data %}Your data involved: {{ affected_data|join:", " }}.{% endif %}

Please choose a new password here: {{ reset_link }}

Questions? {{ contact_point }}
"""
HTML_BODY = """<p>Dear {{ customer.full_name }},</p>
<p>We are writing to tell you about a breach of your personal data. {{ incident.nature }}</p>
<p>What this may mean for you: {{ incident.likely_consequences }}</p>
<p>What we have done: {{ incident.measures_taken }}</p>
<p>What you can do: {{ incident.measures_proposed }}</p>
<p>Please choose a new password here: {{ reset_link }}</p>
<p>Questions? {{ contact_point }}</p>
"""
GERMAN_TEXT = """Liebe Kundin, lieber Kunde {{ customer.full_name }},

wir informieren Sie über eine Verletzung des Schutzes Ihrer Daten. {{ incident.nature }}

Mögliche Folgen: {{ incident.likely_consequences }}
Unsere Maßnahmen: {{ incident.measures_taken }}
Was Sie tun können: {{ incident.measures_proposed }}

Neues Passwort: {{ reset_link }}

Fragen? {{ contact_point }}
"""
GERMAN_HTML = "<p>" + GERMAN_TEXT.replace("\n\n", "</p>\n<p>") + "</p>"


def _user(username: str) -> Any:
    return get_user_model().objects.get(username=username)


def demo_customers_seed(*, stdout: OutputWrapper | None = None) -> int:
    """Import the sample exports in truth.json's order; a file already imported is skipped."""
    imported = 0
    for name in TRUTH["order"]:
        content = (DATA / name).read_bytes()
        stream = io.BytesIO(content)
        segment, _ = Segment.objects.get_or_create(name=SEGMENTS[name])
        job = import_job_create(
            stream=stream,
            file_name=name,
            source=TRUTH["files"][name]["source"],
            mapping_columns=(
                json.loads((DATA / "shop_kunden.mapping.json").read_text(encoding="utf-8"))
                if name == "shop_kunden.csv"
                else None
            ),
            segment=segment,
            keep_file=False,
        )
        done_before = ImportJob.objects.filter(
            file_sha256=job.file_sha256, status=ImportJob.Status.SUCCEEDED, dry_run=False
        ).exists()
        if done_before:
            job.delete()
            continue
        job = import_job_run(job_id=job.pk, stream=stream)
        imported += 1
        if stdout is not None:
            stdout.write(
                f"Imported {name}: {job.rows_read} rows, {job.created} new, {job.merged} merged, "
                f"{job.rejected} rejected."
            )
    return imported


def demo_campaigns_seed(*, owner: Any) -> list[Campaign]:
    """Two campaigns sending: the newsletter to everyone, the shop's points to its buyers."""
    specs = [
        ("Black Friday newsletter (demo)", "Newsletter", "{{ first_name }}, Black Friday is here"),
        ("Loyalty points reminder (demo)", "Shop customers", "{{ first_name }}, your points"),
    ]
    campaigns = []
    for name, segment_name, subject in specs:
        campaign, created = Campaign.objects.get_or_create(
            name=name,
            defaults={
                "owner": owner,
                "subject": subject,
                "body": "Hello {{ first_name }},\n\nSee what is new in {{ campaign_name }}.",
            },
        )
        if created:
            campaign.segments.set([Segment.objects.get(name=segment_name)])
            campaign_start(campaign_id=campaign.pk, actor=owner)
        campaigns.append(campaign)
    return campaigns


def demo_incident_open(*, actor: Any, title: str, hours_ago: float) -> Incident:
    return incident_open(
        actor=actor,
        title=title,
        nature="A copy of the customer database was left readable on a test server.",
        awareness_at=timezone.now() - timedelta(hours=hours_ago),
        data_categories=["contact", "credentials"],
        credentials_open="contact",
        systems=["customer portal", "test server"],
        contact_point="privacy@breachdesk.invalid, +49 30 1234 5678",
        likely_consequences="You may receive phishing emails that use your name.",
        measures_taken="We removed the copy, closed the server and reset every password.",
        measures_proposed="Choose a new password and be wary of emails asking for it.",
    )


def demo_forensic_list_upload(*, incident: Incident, actor: Any) -> None:
    scope_add_forensic_list(
        incident_id=incident.pk,
        actor=actor,
        content=(DATA / "affected_accounts.csv").read_bytes(),
        filename="affected_accounts.csv",
        data_categories=["contact", "credentials"],
    )


def demo_template_submit(*, incident: Incident, author: Any, language: str) -> TemplateVersion:
    """A breach message written by marketing and handed to legal."""
    english = language == "en"
    version = template_create(
        incident_id=incident.pk,
        name=f"Breach notice ({language})",
        actor=author,
        channel=Channel.EMAIL,
        language=language,
        data_categories=["contact", "credentials"],
        subject="About your data" if english else "Zu Ihren Daten",
        text_body=TEXT_BODY if english else GERMAN_TEXT,
        html_body=HTML_BODY if english else GERMAN_HTML,
    )
    return template_version_submit(version_id=version.pk, actor=author)


def demo_communication_create(*, incident: Incident, author: Any) -> Communication:
    start = timezone.now() + timedelta(hours=1)
    return communication_create(
        incident_id=incident.pk,
        actor=author,
        name="Breach notice to everyone affected",
        channels=[Channel.EMAIL],
        send_window_start=start,
        send_window_end=start + timedelta(days=2),
        fallback_language="en",
        version_ids=TemplateVersion.objects.filter(
            template__incident=incident, status=TemplateVersion.Status.APPROVED
        ).values_list("pk", flat=True),
    )


def demo_incident_seed(*, stdout: OutputWrapper | None = None) -> Incident | None:
    """The breach half-way: scoped, campaigns held, English notice approved and waiting for
    the CMO and the CISO, German notice waiting for legal; its GDPR clock has run out."""
    if Incident.objects.filter(title=STORY_TITLE).exists():
        return None
    analyst, marketing, legal = _user("analyst"), _user("marketing"), _user("legal")
    incident = demo_incident_open(actor=analyst, title=STORY_TITLE, hours_ago=75)
    assessment_record(
        incident_id=incident.pk,
        actor=analyst,
        ei=Decimal("0.75"),
        cb_confidentiality=Decimal("0.25"),
        malicious=False,
    )
    demo_forensic_list_upload(incident=incident, actor=analyst)
    english = demo_template_submit(incident=incident, author=marketing, language="en")
    template_version_approve(version_id=english.pk, actor=legal, content_hash=english.content_hash)
    demo_template_submit(incident=incident, author=marketing, language="de")
    demo_communication_create(incident=incident, author=marketing)
    if stdout is not None:
        stdout.write(f"Demo incident: {incident} (scoped, campaigns held, messages under review)")
    return incident


def demo_story_seed(*, stdout: OutputWrapper) -> None:
    """Runs after every app's own demo data; the customers are imported before those."""
    demo_campaigns_seed(owner=_user("cmo"))
    demo_incident_seed(stdout=stdout)

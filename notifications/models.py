"""Breach messages: template versions legal approves, and the communications the CMO and
the CISO sign off together."""

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

from incidents.models import Incident


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    LETTER = "letter", "Letter"


class SignOffRole(models.TextChoices):
    # Values are the role group names in config.roles.
    CMO = "CMO", "CMO"
    CISO = "CISO", "CISO"


class MessageTemplate(models.Model):
    """A message written for one incident; its words live in numbered versions."""

    incident = models.ForeignKey(
        Incident, on_delete=models.PROTECT, related_name="message_templates"
    )
    name = models.CharField(max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["incident", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["incident", "name"], name="messagetemplate_incident_name_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TemplateVersion(models.Model):
    """The words of a template at one point. Approved versions never change (a database
    trigger refuses it too); editing one makes version N+1, which needs its own review."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted for legal review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    template = models.ForeignKey(MessageTemplate, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    channel = models.CharField(max_length=16, choices=Channel.choices)
    language = models.CharField(
        max_length=8, help_text="ISO 639-1 code of the language it is written in, e.g. en, de."
    )
    data_categories = models.JSONField(
        default=list,
        blank=True,
        help_text="The data categories it is written for; it is sent only to people whose "
        "categories it covers.",
    )
    subject = models.CharField(max_length=255)
    text_body = models.TextField()
    html_body = models.TextField()
    # SHA-256 over the fields above, kept current by the services; sign-offs bind to it.
    content_hash = models.CharField(max_length=64, editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_comment = models.TextField(blank=True)

    class Meta:
        ordering = ["template", "-number"]
        permissions = [("review_templateversion", "Can approve or reject template versions")]
        constraints = [
            models.UniqueConstraint(
                fields=["template", "number"], name="templateversion_template_number_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | (Q(reviewed_by__isnull=False) & Q(reviewed_at__isnull=False)),
                name="templateversion_approved_has_reviewer",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | ~Q(reviewed_by=models.F("created_by")),
                name="templateversion_reviewer_is_not_author",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} v{self.number} ({self.language}, {self.get_channel_display()})"

    def compute_content_hash(self) -> str:
        return canonical_sha256(
            {
                "channel": self.channel,
                "language": self.language,
                "data_categories": sorted(self.data_categories),
                "subject": self.subject,
                "text_body": self.text_body,
                "html_body": self.html_body,
            }
        )


class Communication(models.Model):
    """One breach message of an incident: who gets it, how, when, and in which words."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SIGNED_OFF = "signed_off", "Signed off by CMO and CISO"

    incident = models.ForeignKey(Incident, on_delete=models.PROTECT, related_name="communications")
    name = models.CharField(max_length=200)
    audience_data_categories = models.JSONField(
        "only people with these data categories",
        default=list,
        blank=True,
        help_text="Empty: everyone affected.",
    )
    audience_countries = models.JSONField(
        "only people in these countries",
        default=list,
        blank=True,
        help_text="ISO 3166 codes. Empty: every country.",
    )
    channels = models.JSONField(default=list)
    send_window_start = models.DateTimeField()
    send_window_end = models.DateTimeField()
    fallback_language = models.CharField(
        max_length=8,
        help_text="Language used for people with no approved version in their own language.",
    )
    versions: "models.ManyToManyField[TemplateVersion, CommunicationVersion]" = (
        models.ManyToManyField(
            TemplateVersion, through="CommunicationVersion", related_name="communications"
        )
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("sign_communication", "Can sign off communications")]
        constraints = [
            models.CheckConstraint(
                condition=Q(send_window_end__gt=models.F("send_window_start")),
                name="communication_window_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CommunicationVersion(models.Model):
    communication = models.ForeignKey(Communication, on_delete=models.CASCADE)
    version = models.ForeignKey(TemplateVersion, on_delete=models.PROTECT)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["communication", "version"], name="communicationversion_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.version} in {self.communication}"


class CommunicationSignOff(models.Model):
    """A CMO's or CISO's signature over one content hash. Voided, never deleted."""

    communication = models.ForeignKey(
        Communication, on_delete=models.PROTECT, related_name="sign_offs"
    )
    role = models.CharField(max_length=8, choices=SignOffRole.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    content_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["communication", "signed_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["CMO", "CISO"]), name="signoff_role_is_cmo_or_ciso"
            ),
            # With the row lock in the service these make racing sign-offs safe: one role
            # signs once, and one person signs once whatever roles they hold.
            models.UniqueConstraint(
                fields=["communication", "role"],
                condition=Q(voided_at__isnull=True),
                name="signoff_one_active_per_role",
            ),
            models.UniqueConstraint(
                fields=["communication", "user"],
                condition=Q(voided_at__isnull=True),
                name="signoff_one_active_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.role} sign-off by {self.user} on {self.communication}"


def canonical_sha256(document: dict[str, Any]) -> str:
    """SHA-256 of canonical JSON: sorted keys, no whitespace, UTF-8."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()

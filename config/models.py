"""The company profile: who every output says it comes from.

Kernel models: apps read the profile through `company_profile()` without importing each
other; the profile imports no app.
"""

from django.conf import settings
from django.db import models

# Domains no real mailbox lives at: a message from one reads as phishing or bounces.
PLACEHOLDER_DOMAINS = ("localhost", "example.com", "example.org", "example.net")


class CompanyProfile(models.Model):
    """One row (pk 1): the company's identity as customers, the post and regulators see it."""

    legal_name = models.CharField(max_length=200, default="Breachdesk Demo GmbH")
    address_lines = models.TextField(
        "street address", default="Musterstraße 1", help_text="One line each, without city."
    )
    postal_code = models.CharField(max_length=16, default="10115")
    city = models.CharField(max_length=100, default="Berlin")
    country = models.CharField(max_length=2, default="DE", help_text="ISO 3166 code, e.g. DE.")
    registration = models.CharField(
        max_length=200, blank=True, help_text="Register court and number, e.g. HRB 12345 B."
    )
    logo = models.FileField(upload_to="company/", blank=True)
    sender_name = models.CharField(max_length=100, default="Breachdesk Demo")
    sender_email = models.EmailField(default="breachdesk@localhost")
    reply_to = models.EmailField(blank=True)
    genuine_check_url = models.URLField(
        "genuine-check page",
        default="https://www.example.com/security-notice",
        help_text="Where customers can check that a message from us is genuine.",
    )
    dpo_name = models.CharField("DPO name", max_length=200, default="Data Protection Officer")
    dpo_email = models.EmailField("DPO email", default="dpo@localhost")
    dpo_phone = models.CharField("DPO phone", max_length=40, blank=True)
    time_zone = models.CharField(max_length=64, default="Europe/Berlin")
    default_language = models.CharField(max_length=8, default="en")
    country_languages = models.JSONField(
        "language per country",
        default=dict,
        blank=True,
        help_text='Default language of each country, e.g. {"DE": "de", "FR": "fr"}.',
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "company profile"
        verbose_name_plural = "company profile"
        constraints = [models.CheckConstraint(condition=models.Q(pk=1), name="companyprofile_one")]

    def __str__(self) -> str:
        return self.legal_name

    @property
    def sender(self) -> str:
        from email.utils import formataddr

        return formataddr((self.sender_name, self.sender_email))

    @property
    def address_block(self) -> list[str]:
        """Postal lines, domestic form (street lines, then postcode and city)."""
        lines = [line.strip() for line in self.address_lines.splitlines() if line.strip()]
        return [*lines, f"{self.postal_code} {self.city}".strip()]

    @property
    def one_line_address(self) -> str:
        return ", ".join([self.legal_name, *self.address_block])

    def language_for(self, *, language: str, country: str) -> str:
        """A person's own language, else their country's default, else the company's."""
        own = language.strip().lower().replace("_", "-").split("-")[0]
        if own:
            return own
        by_country = {k.upper(): v for k, v in (self.country_languages or {}).items()}
        return str(by_country.get(country.upper(), "") or self.default_language)

    def sender_problem(self) -> str:
        """Why a message from this sender must not leave (empty when it may)."""
        domain = self.sender_email.rpartition("@")[2].lower()
        labels = domain.split(".")
        if (
            domain in PLACEHOLDER_DOMAINS
            or domain.endswith(".invalid")
            or domain.endswith(".localhost")
            or "example" in labels[:-1]
            or "." not in domain
        ):
            return (
                f"The sender address {self.sender_email} is a placeholder: set the company's "
                "real sender in the company profile before anything is sent."
            )
        return ""

    def send_refusal(self) -> str:
        """Outside DEBUG, the reason a send is refused; empty when it may go."""
        return "" if settings.DEBUG else self.sender_problem()


class CompanyProfileChange(models.Model):
    """Who changed the profile, when, and from what to what."""

    changed_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150)
    changes = models.JSONField(default=dict)

    class Meta:
        ordering = ["-changed_at"]

    def __str__(self) -> str:
        return f"{self.actor_label} changed {', '.join(sorted(self.changes))}"


def company_profile() -> CompanyProfile:
    """The profile row, created on first use with the sender DEFAULT_FROM_EMAIL names."""
    from email.utils import parseaddr

    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    defaults = {"sender_email": address} if address else {}
    if name:
        defaults["sender_name"] = name
    profile, _ = CompanyProfile.objects.get_or_create(pk=1, defaults=defaults)
    return profile

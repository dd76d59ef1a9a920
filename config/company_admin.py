"""The company profile in the admin: one row, edited in place, its changes listed."""

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html_join

from config.company import EDITABLE_FIELDS, company_profile_update
from config.models import CompanyProfile, CompanyProfileChange, company_profile


class CompanyProfileAdmin(admin.ModelAdmin):
    list_display = ["legal_name", "sender_email", "genuine_check_url", "updated_at"]
    fieldsets = [
        (
            "Identity",
            {
                "fields": [
                    "legal_name",
                    "address_lines",
                    "postal_code",
                    "city",
                    "country",
                    "registration",
                    "logo",
                ]
            },
        ),
        (
            "Sender",
            {"fields": ["sender_name", "sender_email", "reply_to", "genuine_check_url", "sending"]},
        ),
        ("Data protection officer", {"fields": ["dpo_name", "dpo_email", "dpo_phone"]}),
        ("Language and time", {"fields": ["time_zone", "default_language", "country_languages"]}),
        ("Changes", {"fields": ["change_log"]}),
    ]
    readonly_fields = ["sending", "change_log"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        # One row, made with its defaults the first time anyone looks.
        company_profile()
        return super().changelist_view(request, extra_context)

    @admin.display(description="Sending")
    def sending(self, obj: CompanyProfile) -> str:
        return obj.sender_problem() or f"Messages leave as {obj.sender}."

    @admin.display(description="Recorded changes")
    def change_log(self, obj: CompanyProfile) -> str:
        rows = CompanyProfileChange.objects.all()[:20]
        if not rows:
            return "No change recorded yet."
        return format_html_join(
            "",
            "<p>{} — {}: {}</p>",
            ((r.changed_at.strftime("%Y-%m-%d %H:%M UTC"), r.actor_label, r) for r in rows),
        )

    def save_model(
        self, request: HttpRequest, obj: CompanyProfile, form: Any, change: bool
    ) -> None:
        values = {
            name: form.cleaned_data[name] for name in form.changed_data if name in EDITABLE_FIELDS
        }
        try:
            company_profile_update(actor=request.user, values=values)
        except ValidationError as error:
            messages.error(request, "; ".join(error.messages))

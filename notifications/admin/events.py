"""Admin for what the email providers' webhooks said: read only. An event that named no
known message is kept here (outcome "unknown") for a person to look at."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from config.admin_views import ReadOnlyAdmin
from customers.pii import can_view_pii, mask_email, mask_text

from ..models import DeliveryEvent


@admin.register(DeliveryEvent)
class DeliveryEventAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "provider", "event_type", "kind", "outcome", "occurred_at"]
    list_filter = ["outcome", "provider", "kind"]
    search_fields = ["=provider_message_id", "=reference"]
    show_full_result_count = False
    readonly_fields = [f.name for f in DeliveryEvent._meta.fields]
    actions = None

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        if can_view_pii(request.user):
            return list(self.readonly_fields)
        # The recipient is a person's address; a bounce description may quote it.
        masked = {"recipient": "masked_recipient", "description": "masked_description"}
        return [masked.get(f, f) for f in self.readonly_fields]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [*self.readonly_fields, "masked_recipient", "masked_description"]

    @admin.display(description="recipient")
    def masked_recipient(self, event: DeliveryEvent) -> str:
        return mask_email(event.recipient)

    @admin.display(description="description")
    def masked_description(self, event: DeliveryEvent) -> str:
        return mask_text(event.description)

"""The jurisdiction matrix's own records: one-off regulator closures (and, below, the
regulator directory and the law-enforcement delays)."""

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.forms import ModelForm
from django.http import HttpRequest

from config.services import ServiceError
from incidents import services
from incidents.models import BusinessDayClosure, Regulator
from incidents.rules import is_business_day

from .common import ERRORS


class ClosureForm(forms.ModelForm):
    class Meta:
        model = BusinessDayClosure
        fields = ["calendar", "day", "reason"]

    def clean_calendar(self) -> str:
        calendar = self.cleaned_data["calendar"].strip().upper()
        try:
            is_business_day(date(2026, 1, 5), calendar)
        except ServiceError as error:
            raise forms.ValidationError(str(error)) from None
        return calendar


@admin.register(BusinessDayClosure)
class BusinessDayClosureAdmin(admin.ModelAdmin):
    form = ClosureForm
    list_display = ["day", "calendar", "reason", "created_by", "created_at"]
    list_filter = ["calendar"]
    search_fields = ["reason", "calendar"]
    list_select_related = ["created_by"]
    fields = ["calendar", "day", "reason"]
    date_hierarchy = "day"

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # A closure moves clocks when it is entered; a wrong one is answered by the timeline
        # of the clocks it moved, not by editing it away.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: BusinessDayClosure, form: ModelForm, change: bool
    ) -> None:
        try:
            closure = services.closure_add(
                calendar=obj.calendar, day=obj.day, reason=obj.reason, actor=request.user
            )
        except ERRORS as error:
            self.message_user(request, str(error), messages.ERROR)
            return
        obj.pk = closure.pk


@admin.register(Regulator)
class RegulatorAdmin(admin.ModelAdmin):
    list_display = ["name", "jurisdiction", "portal_url", "email", "form", "language"]
    list_filter = ["jurisdiction", "language"]
    search_fields = ["code", "name", "jurisdiction", "email"]
    fields = ["code", "name", "jurisdiction", "address", "portal_url", "email", "form", "language"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Regimes point at their authority; correct it instead.
        return False

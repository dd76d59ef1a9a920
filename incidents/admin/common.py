"""What the incidents admin pages share: the form page of service-backed views, read-only admins."""

from typing import Any

from django.contrib import admin
from django.forms import Form
from django.http import HttpRequest
from django.template.response import TemplateResponse

from incidents import services

ERRORS = (services.IncidentError, services.ScopeError, services.ObligationError)


def form_page(
    request: HttpRequest,
    *,
    title: str,
    form: Form,
    obj: Any,
    opts: Any,
    intro: str = "",
    button: str = "Save",
) -> TemplateResponse:
    return TemplateResponse(
        request,
        "admin/incidents/action_form.html",
        {
            **admin.site.each_context(request),
            "title": title,
            "form": form,
            "object": obj,
            "opts": opts,
            "intro": intro,
            "button": button,
            "multipart": any(f.widget.needs_multipart_form for f in form.fields.values()),
        },
    )


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by services: viewable, never added, edited or deleted here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

"""What the incidents admin pages share: the form page of service-backed views."""

from typing import Any

from django.contrib import admin
from django.forms import Form
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.admin_views import ReadOnlyAdmin
from config.services import ServiceError

__all__ = ["ERRORS", "ReadOnlyAdmin", "form_page"]

# What the incident views catch and show where the person is: every service refusal.
ERRORS = (ServiceError,)


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

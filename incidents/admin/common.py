"""What the incidents admin pages share: the form page of service-backed views."""

from typing import Any

from django.forms import Form
from django.http import HttpRequest
from django.template.response import TemplateResponse

from config.admin_views import ReadOnlyAdmin
from config.admin_views import form_page as admin_form_page
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
    return admin_form_page(
        request, opts=opts, title=title, form=form, object=obj, intro=intro, submit=button
    )

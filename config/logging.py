"""Error emails that carry no customer contact data."""

from typing import Any

from django.utils.log import AdminEmailHandler

from config.masking import mask_text


class PiiMaskingAdminEmailHandler(AdminEmailHandler):
    """Django's error email, with every email address and phone number masked.

    The text report quotes the URL, GET and POST data and the exception's message, any
    of which may hold a customer's email (a search, a form, an IntegrityError). The
    HTML report (local variables of every frame) is never sent: include_html stays off.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["include_html"] = False
        super().__init__(*args, **kwargs)

    def send_mail(self, subject: Any, message: Any, *args: Any, **kwargs: Any) -> None:
        kwargs["html_message"] = None
        super().send_mail(mask_text(str(subject)), mask_text(str(message)), *args, **kwargs)

"""django-import-export resources: what the admin's export writes, and how it is made safe."""

import re
from typing import Any

from import_export import resources

from .models import Customer
from .pii import CONTACT_FIELDS, mask_field

EXPORT_FIELDS = (
    "id",
    "first_name",
    "last_name",
    "email",
    "email_status",
    "phone",
    "street",
    "postal_code",
    "city",
    "region",
    "country",
    "language",
    "marketing_consent",
    "lifecycle_stage",
)

# A cell starting with one of these is run as a formula by Excel, LibreOffice or Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# A phone number as we store it (E.164, "+4930123456"): a "+" and digits call nothing, and
# a CRM reading the file back wants it as it is.
PHONE_NUMBER = re.compile(r"\+\d[\d ]*")


def cell_escape(value: Any) -> Any:
    """Text a spreadsheet would evaluate gets a leading apostrophe, so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        if PHONE_NUMBER.fullmatch(value):
            return value
        return "'" + value
    return value


class CustomerExportResource(resources.ModelResource):
    """The whitelisted fields an export may hold; the admin lets the user pick among them."""

    class Meta:
        model = Customer
        fields = EXPORT_FIELDS
        export_order = EXPORT_FIELDS
        name = "Customers (contact fields)"

    def __init__(self, *, show_pii: bool = False, **kwargs: Any) -> None:
        # Masked unless the admin says the user holds customers.view_pii.
        super().__init__(**kwargs)
        self.show_pii = show_pii

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        value = super().export_field(field, instance, **kwargs)
        if not self.show_pii and field.attribute in CONTACT_FIELDS:
            value = mask_field(field.attribute, str(value or ""))
        return cell_escape(value)

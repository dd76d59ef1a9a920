"""django-import-export resources: what the admin's export writes, and how it is made safe."""

from typing import Any

from import_export import resources

from .models import Customer

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


def cell_escape(value: Any) -> Any:
    """Text a spreadsheet would evaluate gets a leading apostrophe, so it shows as text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class CustomerExportResource(resources.ModelResource):
    """The whitelisted fields an export may hold; the admin lets the user pick among them."""

    class Meta:
        model = Customer
        fields = EXPORT_FIELDS
        export_order = EXPORT_FIELDS
        name = "Customers (contact fields)"

    def export_field(self, field: Any, instance: Any, **kwargs: Any) -> Any:
        return cell_escape(super().export_field(field, instance, **kwargs))

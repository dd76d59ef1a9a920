"""django-import-export resources: what the admin's export writes, and how it is made safe."""

from typing import Any

from import_export import resources

from config.csv_safe import FORMULA_STARTS, PHONE_NUMBER, cell_escape  # noqa: F401

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

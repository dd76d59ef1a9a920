"""The customers admin, by topic; importing the package registers every admin."""

from . import customers, exports, identity, imports, records
from .common import EXPORT_PERMISSION, IMPORT_PERMISSION, MASKED_FIELDS
from .customers import CustomerAdmin

__all__ = [
    "EXPORT_PERMISSION",
    "IMPORT_PERMISSION",
    "MASKED_FIELDS",
    "CustomerAdmin",
    "customers",
    "exports",
    "identity",
    "imports",
    "records",
]

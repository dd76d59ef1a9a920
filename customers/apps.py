from django.apps import AppConfig

from config import roles
from config.housekeeping import Housekeeping

IMPORT_FILES_PURGE = "Delete old import files"
EXPORT_FILES_PURGE = "Delete old customer export files"
DUPLICATES_SEARCH = "Search for suspected duplicate customers"


_RECORD_VIEW = {
    "customers.view_customer",
    "customers.view_sourcerecord",
    "customers.view_segment",
    "customers.view_segmentmembership",
    "customers.view_touchpoint",
    "customers.view_importjob",
}
_IMPORT = {
    "customers.import_customer",
    "customers.view_importrejection",
    "customers.view_importmapping",
    "customers.add_importmapping",
    "customers.change_importmapping",
    # Which addresses identify nobody is decided by those who import.
    "customers.view_placeholderemail",
    "customers.add_placeholderemail",
    "customers.change_placeholderemail",
    "customers.delete_placeholderemail",
    "customers.view_sharedemail",
    "customers.view_sourcepriority",
    "customers.add_sourcepriority",
    "customers.change_sourcepriority",
    "customers.delete_sourcepriority",
    # The duplicate review queue and its merges: those who import decide who is one person.
    "customers.view_duplicatecandidate",
    "customers.change_duplicatecandidate",
    "customers.view_customermerge",
    "customers.change_customermerge",
}


# Contact data in full: for the people who write to customers or trace them in a breach.
# The CMO, CISO, legal reviewers and auditors work with masked emails, phones, addresses.
_PII = {"customers.view_pii"}


class CustomersConfig(AppConfig):
    name = "customers"
    housekeeping = (
        Housekeeping(IMPORT_FILES_PURGE, "customers.tasks.import_files_purge_task", "daily"),
        Housekeeping(EXPORT_FILES_PURGE, "customers.tasks.export_files_purge_task", "daily"),
        Housekeeping(DUPLICATES_SEARCH, "customers.tasks.duplicates_search_daily_task", "daily"),
    )
    verbose_name = "Customers"
    # Contact data (config.admin_pii): no list is narrowed by it without view_pii. A
    # synthetic external id is "email:<address>".
    contact_fields = {
        "Customer": ("email", "email_normalized", "phone", "street", "postal_code", "city"),
        "SourceRecord": ("external_id", "email", "phone", "street", "postal_code", "city"),
        "SharedEmail": ("email",),
        "ImportRejection": ("value",),
    }
    role_permissions: dict[str, set[str]] = {
        roles.MARKETING_OPERATOR: _RECORD_VIEW
        | _IMPORT
        | {
            "customers.add_segment",
            "customers.change_segment",
            "customers.delete_segment",
            "customers.add_segmentmembership",
            "customers.change_segmentmembership",
            "customers.delete_segmentmembership",
            "customers.export_customer",
            "customers.view_customerexport",
        }
        | _PII,
        # Scoping an incident needs the record; a forensic list of accounts is an import.
        roles.SECURITY_ANALYST: _RECORD_VIEW | _IMPORT | _PII,
        # Those who export see the background exports (only their own file downloads).
        roles.CMO: _RECORD_VIEW | {"customers.export_customer", "customers.view_customerexport"},
        roles.CISO: set(_RECORD_VIEW),
        roles.DPO: _RECORD_VIEW | _PII | {"customers.view_piiaccess"},
        roles.AUDITOR: {
            f"customers.view_{model}"
            for model in (
                "customer",
                "sourcerecord",
                "segment",
                "segmentmembership",
                "touchpoint",
                "importjob",
                "importrejection",
                "importmapping",
                "piiaccess",
                "customerexport",
                "placeholderemail",
                "sharedemail",
                "sourcepriority",
                "duplicatecandidate",
                "customermerge",
            )
        },
    }

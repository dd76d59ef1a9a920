"""Every write to the customer record: imports, exports, edits by hand, the access log."""

from .duplicates import (
    MergeError,
    customer_merge,
    customer_unmerge,
    duplicate_dismiss,
    duplicates_find,
    duplicates_search_enqueue,
    duplicates_search_run,
)
from .exports import (
    ExportError,
    customer_export_build,
    customer_export_download,
    customer_export_enqueue,
    customer_export_files_purge,
    customer_export_request,
)
from .imports import (
    MAX_REJECTIONS_KEPT,
    ImportCancelled,
    import_files_purge,
    import_job_cancel,
    import_job_confirm,
    import_job_create,
    import_job_enqueue,
    import_job_retry,
    import_job_run,
)
from .records import customer_save, pii_access_record
from .stalled import customer_exports_mark_stalled, import_jobs_mark_stalled

__all__ = [
    "MAX_REJECTIONS_KEPT",
    "ExportError",
    "ImportCancelled",
    "MergeError",
    "customer_export_build",
    "customer_export_download",
    "customer_export_enqueue",
    "customer_export_files_purge",
    "customer_export_request",
    "customer_exports_mark_stalled",
    "customer_merge",
    "customer_save",
    "customer_unmerge",
    "duplicate_dismiss",
    "duplicates_find",
    "duplicates_search_enqueue",
    "duplicates_search_run",
    "import_files_purge",
    "import_job_cancel",
    "import_job_confirm",
    "import_job_create",
    "import_job_enqueue",
    "import_job_retry",
    "import_job_run",
    "import_jobs_mark_stalled",
    "pii_access_record",
]

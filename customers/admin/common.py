"""What the customers admin pages share: permission names, masking, held values."""

from django.utils.html import format_html, format_html_join

from ..models import ImportJob, SourceRecord
from ..pii import mask_field

IMPORT_PERMISSION = "customers.import_customer"
# What a user without customers.view_pii sees in place of each contact field.
MASKED_FIELDS = {
    "email": "masked_email",
    "phone": "masked_phone",
    "street": "masked_street",
    "postal_code": "masked_postal_code",
    "city": "masked_city",
}
EXPORT_PERMISSION = "customers.export_customer"
# A record imported without an id gets "email:<address>": masked like any address.
MASKED_EXTERNAL_ID = "masked_external_id"
TIMELINE_LIMIT = 100


_HELD = ("email", "phone", "street", "postal_code", "city", "region", "country")
_GROUPS = (("email", "email"), ("phone", "phone"), ("address", "postal address"))


def _held_values(record: SourceRecord, *, in_full: bool) -> str:
    parts = [
        (name.replace("_", " "), value if in_full else mask_field(name, value))
        for name in _HELD
        if (value := getattr(record, name))
    ]
    if not parts:
        return "-"
    return format_html_join(format_html("<br>"), "{}: {}", parts)


def job_summary(job: ImportJob) -> str:
    """An import's outcome in one sentence, for the message after it runs."""
    if job.status != ImportJob.Status.SUCCEEDED:
        return f"{job.file_name}: {job.get_status_display()}. {job.error}"
    if job.changed_nothing:
        return f"{job.file_name}: nothing changed, every row was already imported as it is."
    return " ".join(
        filter(
            None,
            [
                f"{job.file_name}: {job.created} created, {job.updated} updated, "
                f"{job.merged} merged, {job.unchanged} unchanged, {job.rejected} rejected.",
                job.email_unkeyed_summary,
            ],
        )
    )

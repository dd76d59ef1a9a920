"""Background work for customers: tasks take ids and call one service."""

from .models import DuplicateSearch
from .services import (
    customer_export_build,
    customer_export_files_purge,
    duplicates_search_run,
    import_files_purge,
    import_job_run,
)


def import_job_run_task(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return f"import {job.pk}: {job.status}"


def import_files_purge_task() -> int:
    return import_files_purge()


def customer_export_build_task(export_id: int) -> str:
    export = customer_export_build(export_id=export_id)
    return f"customer export {export.pk}: {export.status}"


def export_files_purge_task() -> int:
    return customer_export_files_purge()


def duplicates_search_daily_task() -> str:
    search = duplicates_search_run(trigger=DuplicateSearch.Trigger.SCHEDULE)
    return f"duplicate search {search.pk}: {search.found} new pairs"


def duplicates_search_task(user_id: int | None = None) -> str:
    from django.contrib.auth import get_user_model

    by = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    search = duplicates_search_run(trigger=DuplicateSearch.Trigger.PERSON, by=by)
    return f"duplicate search {search.pk}: {search.found} new pairs"

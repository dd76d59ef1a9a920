"""Background work for customers: tasks take ids and call one service."""

from .services import import_files_purge, import_job_run


def import_job_run_task(job_id: int) -> str:
    job = import_job_run(job_id=job_id)
    return f"import {job.pk}: {job.status}"


def import_files_purge_task() -> int:
    return import_files_purge()

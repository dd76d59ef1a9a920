"""A customer whose contact data is unique, seeded through the real import, and the
places a person without customers.view_pii must never find it."""

import io
import uuid
from dataclasses import dataclass

from django.contrib.auth import get_user_model

from customers.models import Customer, ImportJob
from customers.services import import_job_create, import_job_run

HEADER = (
    "Contact ID,First Name,Last Name,Email,Phone,Mailing Street,Mailing City,"
    "Mailing State/Province,Mailing Zip/Postal Code,Mailing Country,Email Opt Out,"
    "Created Date,Account Name\n"
)


@dataclass
class Canary:
    email: str
    ghost_email: str
    phone: str
    street: str
    customer: Customer

    def needles(self) -> list[str]:
        """Strings that must not appear, lower-cased: any one of them leaks the person."""
        local = self.email.split("@")[0]
        return [
            self.email.lower(),
            self.email.lower().replace("@", "%40"),
            local.lower(),
            self.ghost_email.split("@")[0].lower(),
            "7700900417",
            "7700 900 417",
            self.street.lower(),
        ]

    def leaks(self, text: str) -> list[str]:
        lowered = text.lower()
        return [needle for needle in self.needles() if needle in lowered]


def canary_import(*, run: bool = True) -> tuple[ImportJob, str, str]:
    """An import job of one unique customer; run now unless `run` is false."""
    tag = uuid.uuid4().hex[:12]
    email = f"Canary-{tag}@canary-mail.example.org"
    street = f"{tag[:6]} Nightingale Mews"
    content = HEADER + (
        f'003CANARY{tag[:9]},Cora,Finch,{email},+44 7700 900 417,"{street}",Lindenholt,,'
        "E14 5AB,GB,false,01/01/2024,Acme Retail\n"
    )
    owner = get_user_model().objects.filter(username="canary-importer").first()
    if owner is None:
        owner = get_user_model().objects.create_user("canary-importer")
    job = import_job_create(
        stream=io.BytesIO(content.encode()),
        file_name="canary.csv",
        source="salesforce",
        created_by=owner,
    )
    if run:
        job = import_job_run(job_id=job.pk)
    return job, email, street


def canary_seed() -> Canary:
    job, email, street = canary_import()
    assert job.status == ImportJob.Status.SUCCEEDED, job.error
    customer = Customer.objects.get(email_normalized=email.lower())
    ghost = f"ghost-{uuid.uuid4().hex[:12]}@canary-mail.example.org"
    return Canary(
        email=email, ghost_email=ghost, phone="+447700900417", street=street, customer=customer
    )

from django.apps import AppConfig

from config import roles

# The readiness page and the board PDF: for those who answer for being ready (the CMO,
# the CISO, the DPO) and the auditor who reads it. The contact-gap list shows no contact
# data (names, country, state and which channel is missing), so no view_pii is needed.
_READ = {"readiness.view_readinesssnapshot", "readiness.view_contactgap"}


class ReadinessConfig(AppConfig):
    name = "config.readiness"
    label = "readiness"
    verbose_name = "Readiness"
    role_permissions: dict[str, set[str]] = {
        roles.CMO: set(_READ),
        roles.CISO: set(_READ),
        roles.DPO: set(_READ),
        roles.AUDITOR: set(_READ),
    }

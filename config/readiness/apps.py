from django.apps import AppConfig

# The readiness page and the board PDF: for those who answer for being ready (the CMO,
# the CISO, the DPO) and the auditor who reads it. The contact-gap list shows no contact
# data (names, country, state and which channel is missing), so no view_pii is needed.
_READ = {"readiness.view_readinesssnapshot", "readiness.view_contactgap"}


class ReadinessConfig(AppConfig):
    name = "config.readiness"
    label = "readiness"
    verbose_name = "Readiness"
    # Role names as in config.roles (importing it here would load auth models too early).
    role_permissions: dict[str, set[str]] = {
        "CMO": set(_READ),
        "CISO": set(_READ),
        "DPO": set(_READ),
        "Auditor": set(_READ),
    }

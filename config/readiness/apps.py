from django.apps import AppConfig

from config import roles
from config.housekeeping import Housekeeping

READINESS_SNAPSHOT = "Take the daily readiness snapshot"
CUSTOMER_FIGURES_REFRESH = "Recount the readiness customer figures"


# The readiness page and the board PDF: for those who answer for being ready (the CMO,
# the CISO, the DPO) and the auditor who reads it. The contact-gap list shows no contact
# data (names, country, state and which channel is missing), so no view_pii is needed.
_READ = {
    "readiness.view_readinesssnapshot",
    "readiness.view_contactgap",
    "readiness.view_oncallshift",
}
# The CMO and the CISO keep the on-call rota (they answer for the first hours).
_ROTA = {
    "readiness.add_oncallshift",
    "readiness.change_oncallshift",
    "readiness.delete_oncallshift",
}


class ReadinessConfig(AppConfig):
    name = "config.readiness"
    housekeeping = (
        Housekeeping(READINESS_SNAPSHOT, "config.readiness.tasks.readiness_snapshot_task", "daily"),
        # Counts kept for a page that must not count a million rows per view.
        Housekeeping(
            CUSTOMER_FIGURES_REFRESH,
            "config.readiness.tasks.customer_figures_refresh_task",
            10,
            minutes_setting="READINESS_RECOUNT_MINUTES",
        ),
    )
    label = "readiness"
    verbose_name = "Readiness"
    role_permissions: dict[str, set[str]] = {
        roles.CMO: _READ | _ROTA,
        roles.CISO: _READ | _ROTA,
        roles.DPO: set(_READ),
        roles.AUDITOR: set(_READ),
    }

    def ready(self) -> None:
        from customers.signals import customers_changed

        from .receivers import customer_figures_recount_on_change

        customers_changed.connect(
            customer_figures_recount_on_change, dispatch_uid="readiness_recount_on_change"
        )

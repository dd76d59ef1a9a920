from django.apps import AppConfig

VIEW = {
    f"incidents.view_{model}"
    for model in (
        "incident",
        "affectedcustomer",
        "timelineevent",
        "assessment",
        "regime",
        "obligation",
        "forensiclist",
        "forensiclistrow",
    )
}
RESPOND = {
    "incidents.add_incident",
    "incidents.change_incident",
    "incidents.transition_incident",
    "incidents.scope_incident",
    "incidents.add_assessment",
}
DECIDE = {"incidents.decide_incident", "incidents.meet_obligation"}


class IncidentsConfig(AppConfig):
    name = "incidents"
    verbose_name = "Incidents"
    # Analysts open and scope incidents; the DPO (or the CISO) decides and files; the
    # DPO keeps the regimes; everyone else reads.
    # Role names as in config.roles (importing it here would load auth models too early).
    role_permissions: dict[str, set[str]] = {
        "Security analyst": VIEW | RESPOND,
        "CISO": VIEW | RESPOND | DECIDE,
        "DPO": VIEW | DECIDE | {"incidents.add_regime", "incidents.change_regime"},
        "CMO": VIEW,
        "Legal reviewer": VIEW,
        "Marketing operator": VIEW,
        "Auditor": VIEW,
    }

from django.apps import AppConfig

from config import roles
from config.housekeeping import Housekeeping

RECOVERY_PLANS_RUN = "Start the recovery steps that are due"
WAVE_FIGURES_COUNT = "Count large waves again"


_VIEW = {
    "notifications.view_messagetemplate",
    "notifications.view_templateversion",
    "notifications.view_communication",
    "notifications.view_communicationsignoff",
}
_VIEW |= {
    "notifications.view_delivery",
    "notifications.view_notification",
    "notifications.view_letterbatch",
    "notifications.view_remediationcode",
    "notifications.view_deliveryevent",
}
_VIEW |= {
    "notifications.view_returnedletter",
    "notifications.view_substitutenotice",
    "notifications.view_callcentrepack",
}
_DRAFT = _VIEW | {
    "notifications.add_callcentrepack",
    "notifications.add_messagetemplate",
    "notifications.add_templateversion",
    "notifications.change_templateversion",
    "notifications.add_communication",
    "notifications.change_communication",
}

# Sending, pausing and resuming a wave is the signers' decision; the letters, bounce files
# and code pools are operators' work.
_LETTERS = {
    "notifications.add_letterbatch",
    "notifications.post_letterbatch",
    "notifications.change_notification",
    "notifications.add_remediationcode",
    "notifications.import_returnedletter",
}
_SEND = _LETTERS | {
    "notifications.send_communication",
    "notifications.resume_delivery",
    "notifications.add_callcentrepack",
}


# The way back: the CMO sets up a recovery plan, the CISO consents; operators and security
# bring in the responses (redemption files, password resets).
_RECOVERY_VIEW = {"notifications.view_recoveryplan"}
_RECOVERY_RECORD = _RECOVERY_VIEW | {"notifications.record_responses"}


class NotificationsConfig(AppConfig):
    name = "notifications"
    housekeeping = (
        # A recovery step is due by the day, and should not wait most of one.
        Housekeeping(RECOVERY_PLANS_RUN, "notifications.tasks.recovery_plans_run_task", "hourly"),
        # Kept counts of large waves: pages show them with their time.
        Housekeeping(WAVE_FIGURES_COUNT, "notifications.tasks.wave_figures_count_task", 1),
    )
    verbose_name = "Breach messages"
    # Contact data (config.admin_pii): the address a notification was written to.
    contact_fields = {
        "Notification": ("email",),
        "DeliveryEvent": ("recipient", "description"),
        "ReturnedLetter": ("street", "postal_code", "city"),
    }
    # Marketing and security write the messages; legal approves the words; the CMO and
    # the CISO sign what goes out; nobody deletes (history is evidence).
    role_permissions: dict[str, set[str]] = {
        roles.LEGAL_REVIEWER: _VIEW | {"notifications.review_templateversion"},
        roles.CMO: _VIEW
        | _SEND
        | _RECOVERY_RECORD
        | {
            "notifications.sign_communication",
            "notifications.add_recoveryplan",
            "notifications.stop_recoveryplan",
        },
        roles.CISO: _VIEW
        | _SEND
        | _RECOVERY_RECORD
        | {
            "notifications.sign_communication",
            "notifications.consent_recoveryplan",
            "notifications.stop_recoveryplan",
        },
        roles.MARKETING_OPERATOR: _DRAFT | _LETTERS | _RECOVERY_RECORD,
        roles.SECURITY_ANALYST: _DRAFT | _RECOVERY_RECORD,
        roles.DPO: _VIEW | _RECOVERY_VIEW | {"notifications.decide_substitutenotice"},
        roles.AUDITOR: _VIEW | _RECOVERY_VIEW,
        # Agents answer callers: one person by the reference on their letter, nothing else.
        roles.CALL_CENTRE_AGENT: {"notifications.lookup_notification"},
    }

    def ready(self) -> None:
        from customers.signals import customer_merged
        from incidents.signals import incident_drill_changed, incident_updated, scope_changed

        from . import evidence, incident_page, receivers

        customer_merged.connect(
            receivers.customer_merged_skip_notifications,
            dispatch_uid="notifications.customer_merged_skip_notifications",
        )

        scope_changed.connect(
            receivers.scope_changed_void_sign_offs,
            dispatch_uid="notifications.scope_changed_void_sign_offs",
        )
        incident_updated.connect(
            receivers.incident_updated_void_sign_offs,
            dispatch_uid="notifications.incident_updated_void_sign_offs",
        )
        incident_drill_changed.connect(
            receivers.incident_drill_changed_void_sign_offs,
            dispatch_uid="notifications.incident_drill_changed_void_sign_offs",
        )
        evidence.register()
        incident_page.register()

        from incidents.services.obligations import obligation_meet_guard_register

        from .reach.substitute import substitute_posting_guard

        obligation_meet_guard_register("substitute_notice", substitute_posting_guard)

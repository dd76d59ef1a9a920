from django.apps import AppConfig

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
_DRAFT = _VIEW | {
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
}
_SEND = _LETTERS | {"notifications.send_communication", "notifications.resume_delivery"}


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Breach messages"
    # Role names as in config.roles (importing it here would load auth models too early).
    # Marketing and security write the messages; legal approves the words; the CMO and
    # the CISO sign what goes out; nobody deletes (history is evidence).
    role_permissions: dict[str, set[str]] = {
        "Legal reviewer": _VIEW | {"notifications.review_templateversion"},
        "CMO": _VIEW | _SEND | {"notifications.sign_communication"},
        "CISO": _VIEW | _SEND | {"notifications.sign_communication"},
        "Marketing operator": _DRAFT | _LETTERS,
        "Security analyst": set(_DRAFT),
        "DPO": set(_VIEW),
        "Auditor": set(_VIEW),
    }

    def ready(self) -> None:
        from incidents.signals import incident_updated, scope_changed

        from . import evidence, receivers

        scope_changed.connect(
            receivers.scope_changed_void_sign_offs,
            dispatch_uid="notifications.scope_changed_void_sign_offs",
        )
        incident_updated.connect(
            receivers.incident_updated_void_sign_offs,
            dispatch_uid="notifications.incident_updated_void_sign_offs",
        )
        evidence.register()

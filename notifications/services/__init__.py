"""Every write to breach messages goes through these services."""

from .common import Actor, TransitionRefused
from .communications import (
    communication_create,
    communication_fields_clean,
    communication_sign_off,
    communication_sign_offs_void,
    communication_sign_offs_void_for_facts,
    communication_sign_offs_void_for_scope,
    communication_update,
)
from .templates import (
    message_template_create,
    template_create,
    template_version_approve,
    template_version_copy,
    template_version_create,
    template_version_fields_clean,
    template_version_reject,
    template_version_submit,
    template_version_update,
)

__all__ = [
    "Actor",
    "TransitionRefused",
    "communication_create",
    "communication_fields_clean",
    "communication_sign_off",
    "communication_sign_offs_void",
    "communication_sign_offs_void_for_facts",
    "communication_sign_offs_void_for_scope",
    "communication_update",
    "message_template_create",
    "template_create",
    "template_version_approve",
    "template_version_copy",
    "template_version_create",
    "template_version_fields_clean",
    "template_version_reject",
    "template_version_submit",
    "template_version_update",
]

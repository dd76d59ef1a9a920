"""The timeline event kinds the notifications app writes on an incident's timeline."""

from config.events import event_kind_declare as declare

MESSAGE_TEMPLATE_CREATED = declare(
    "message_template.created", "Message template created", "Words for a breach message begun."
)
TEMPLATE_VERSION_CREATED = declare(
    "template_version.created", "Template version written", "A version of the words was written."
)
TEMPLATE_VERSION_SUBMITTED = declare(
    "template_version.submitted",
    "Submitted for legal review",
    "A version of the words was sent to legal review.",
)
TEMPLATE_VERSION_APPROVED = declare(
    "template_version.approved", "Words approved by legal", "Legal approved a version."
)
TEMPLATE_VERSION_REJECTED = declare(
    "template_version.rejected", "Words rejected by legal", "Legal rejected a version."
)
COMMUNICATION_CREATED = declare(
    "communication.created", "Communication drafted", "A breach communication was drafted."
)
COMMUNICATION_CHANGED = declare(
    "communication.changed", "Communication changed", "A breach communication was changed."
)
COMMUNICATION_SIGNED_OFF = declare(
    "communication.signed_off", "Signed off", "The CMO or the CISO signed off the content."
)
COMMUNICATION_SIGN_OFFS_VOIDED = declare(
    "communication.sign_offs_voided",
    "Sign-offs voided",
    "A change to what was signed voided the sign-offs.",
)
COMMUNICATION_APPROVED = declare(
    "communication.approved",
    "Communication approved",
    "Both the CMO and the CISO signed off: it may be sent.",
)
DELIVERY_STARTED = declare(
    "delivery.started", "Sending started", "Notices to the affected people began to go out."
)
DELIVERY_PAUSED = declare("delivery.paused", "Sending paused", "Sending was paused.")
DELIVERY_RESUMED = declare("delivery.resumed", "Sending resumed", "Sending was resumed.")
DELIVERY_STALL_RESUMED = declare(
    "delivery.stall_resumed",
    "Stalled sending handed out again",
    "Notices were waiting but none had gone out for a while; their batches were handed to "
    "the task cluster again.",
)
DELIVERY_COMPLETED = declare(
    "delivery.completed", "Sending completed", "Every notice of the wave was handled."
)
DELIVERY_LETTERS_BUILT = declare(
    "delivery.letters_built", "Letters prepared", "A batch of postal letters was built."
)
DELIVERY_LETTERS_POSTED = declare(
    "delivery.letters_posted", "Letters posted", "A batch of letters was handed to the post."
)
DELIVERY_CODES_IMPORTED = declare(
    "delivery.codes_imported", "Remediation codes imported", "Credit-monitoring codes added."
)
DELIVERY_BOUNCES_RECORDED = declare(
    "delivery.bounces_recorded", "Bounces recorded", "Undeliverable emails were recorded."
)
DELIVERY_PROVIDER_EVENTS = declare(
    "delivery.provider_events",
    "Provider reports applied",
    "The email provider's reports (delivered, bounced, complained) were applied.",
)
LETTERS_RETURNED = declare(
    "letters.returned",
    "Returned letters recorded",
    "Letters the post brought back were recorded from the print house's return file.",
)
SUBSTITUTE_NOTICE_DECIDED = declare(
    "substitute_notice.decided",
    "Substitute notice decided",
    "Whether people no channel reaches are told by a public notice, under the law's condition.",
)
SUBSTITUTE_NOTICE_SIGNED_OFF = declare(
    "substitute_notice.signed_off",
    "Substitute notice signed off",
    "The CMO or the CISO signed the substitute notice's texts (by their SHA-256).",
)
CALL_CENTRE_PACK_MADE = declare(
    "call_centre_pack.made",
    "Call-centre pack made",
    "A script and FAQ for the call centre were written from the approved words.",
)
CALL_CENTRE_PACK_VOIDED = declare(
    "call_centre_pack.voided",
    "Call-centre pack voided",
    "New approved words voided the call-centre pack written from the old ones.",
)
TEMPLATE_VERSION_EDITED = declare(
    "template_version.edited",
    "Words edited",
    "Someone edited a draft version of the words; every editor counts as a writer.",
)
RECOVERY_PLAN_CREATED = declare(
    "recovery.plan_created",
    "Recovery plan set up",
    "The CMO set up the way back for the people affected: steps after the notice.",
)
RECOVERY_PLAN_CONSENTED = declare(
    "recovery.plan_consented",
    "Recovery plan consented",
    "The CISO consented to the recovery plan with its steps as they were.",
)
RECOVERY_STEP_ADDED = declare(
    "recovery.step_added",
    "Recovery step added",
    "A step was added to the recovery plan; the CISO's consent is asked for again.",
)
RECOVERY_STEP_STARTED = declare(
    "recovery.step_started",
    "Recovery step sent",
    "A step of the recovery plan went out to the people its condition leaves.",
)
RECOVERY_MARKETING_RETURNED = declare(
    "recovery.marketing_returned",
    "Marketing back to normal",
    "The date of the recovery plan when marketing returns to normal for the people affected.",
)
RECOVERY_PLAN_STOPPED = declare(
    "recovery.plan_stopped", "Recovery plan stopped", "The recovery plan was stopped."
)
RECOVERY_RESPONSES_RECORDED = declare(
    "recovery.responses_recorded",
    "Responses recorded",
    "Code redemptions or password resets of the people affected were recorded.",
)

"""What the incidents app tells the apps that depend on it.

Sent by incident services inside their transaction; receivers (connected in the
receiving app's AppConfig.ready) only dispatch to their own services.
"""

from django.dispatch import Signal

# kwargs: incident_id: int, added: int, removed: int, actor: User | None
scope_changed = Signal()

# kwargs: incident_id: int, changed: list[str] (the fields changed), actor: User | None
incident_updated = Signal()

# kwargs: incident_id: int, actor: User | None
incident_closed = Signal()

# kwargs: incident_id: int. Sent by the scope preview inside its dry run (never by a write).
# Each receiver returns [(campaign name, status, people of its audience in the scope)], the
# people a hold keeps that campaign from mailing.
scope_holds_requested = Signal()
# kwargs: incident_id: int, is_drill: bool (the new status), actor: User (the confirmer),
# cmo: User (the CMO of the two deciders, who acts for the holds)
incident_drill_changed = Signal()

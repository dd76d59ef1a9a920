"""Admin for breach messages. Writes go through the services; review and sign-off are
confirmation pages that show exactly what is approved or signed."""

from . import communications, delivery, events, templates

__all__ = ["communications", "delivery", "events", "templates"]

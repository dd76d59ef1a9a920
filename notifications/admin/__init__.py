from . import communications, delivery, events, reach, recovery, templates

__all__ = ["communications", "delivery", "events", "reach", "recovery", "templates"]

from . import communications, delivery, events, reach, templates

__all__ = ["communications", "delivery", "events", "reach", "templates"]

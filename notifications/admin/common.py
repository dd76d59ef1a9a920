"""What both admin modules share."""

from django.core.exceptions import ValidationError


def error_message(error: Exception) -> str:
    """A service's refusal in words for the page."""
    if isinstance(error, ValidationError):
        return "; ".join(error.messages)
    return str(error)

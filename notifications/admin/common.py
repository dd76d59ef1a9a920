"""What both admin modules share."""

from config.admin_views import error_message

__all__ = ["error_message"]

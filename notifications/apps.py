from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = "Breach messages"
    role_permissions: dict[str, set[str]] = {}

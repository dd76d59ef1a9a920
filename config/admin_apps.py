from django.contrib.admin.apps import AdminConfig


class BreachdeskAdminConfig(AdminConfig):
    """Django's admin with Breachdesk's site: sections ordered by the person's role."""

    default_site = "config.admin_site.BreachdeskAdminSite"

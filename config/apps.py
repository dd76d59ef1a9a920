from typing import Any

from django.apps import AppConfig, apps
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.core.management.base import OutputWrapper
from django.db.models.signals import post_migrate
from django.utils.module_loading import autodiscover_modules

from config import roles


def _after_migrate(using: str, **kwargs: Any) -> None:
    from django.contrib.auth.management import create_permissions

    from config.db_roles import runtime_role_grant
    from config.roles import roles_sync
    from config.tasks import housekeeping_schedule
    from incidents.models import Regime
    from incidents.regime_data import regimes_restore

    # post_migrate fires app by app; make sure every app's permissions exist before the
    # groups are given them.
    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)
    roles_sync()
    housekeeping_schedule()
    # A table a migration just created is granted to the runtime role too (when one is
    # configured and exists; see config.db_roles).
    runtime_role_grant(role=settings.DATABASE_RUNTIME_ROLE, using=using)
    # The jurisdiction matrix is data the product ships: a data migration writes it, and a
    # flushed database (`manage.py flush`, a transactional test) gets it back here.
    if not Regime.objects.exists():
        regimes_restore()


class BreachdeskConfig(AppConfig):
    """Project-wide pieces that belong to no domain app: roles, demo data, checks."""

    name = "config"
    verbose_name = "Breachdesk"
    # The DPO keeps the company profile (who every message says it is from); all read it.
    role_permissions: dict[str, set[str]] = {
        roles.DPO: {"config.view_companyprofile", "config.change_companyprofile"},
        **{
            role: {"config.view_companyprofile"}
            for role in (
                roles.CMO,
                roles.CISO,
                roles.LEGAL_REVIEWER,
                roles.MARKETING_OPERATOR,
                roles.AUDITOR,
            )
        },
        roles.SECURITY_ANALYST: {"config.view_companyprofile"},
    }

    def ready(self) -> None:
        from config import checks  # noqa: F401 (registers the checks)
        from config.middleware import session_start

        autodiscover_modules("events")  # every app's timeline event kinds
        # Sent once per migrate, after every app (this app is listed last).
        user_logged_in.connect(session_start, dispatch_uid="config.session_start")
        post_migrate.connect(_after_migrate, sender=self, dispatch_uid="config.after_migrate")

    def seed_demo(self, *, stdout: OutputWrapper) -> None:
        """The story across every app; this app is listed last, so it runs after theirs."""
        from config.demo_story import demo_story_seed

        demo_story_seed(stdout=stdout)

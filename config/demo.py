"""Demo users, one per role, for `manage.py seed_demo`.

Each app may contribute demo data through a `seed_demo(*, stdout)` method on its
AppConfig; they run in INSTALLED_APPS order, which follows the dependencies.
"""

from dataclasses import dataclass

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import OutputWrapper
from django.db import transaction

from config import roles


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    full_name: str

    @property
    def password(self) -> str:
        return f"{self.username}-breachdesk-demo"


DEMO_USERS = (
    DemoUser("cmo", roles.CMO, "Carla Mendes"),
    DemoUser("ciso", roles.CISO, "Sven Ivarsson"),
    DemoUser("dpo", roles.DPO, "Dana Prohaska"),
    DemoUser("legal", roles.LEGAL_REVIEWER, "Lena Gallagher"),
    DemoUser("marketing", roles.MARKETING_OPERATOR, "Mo Okafor"),
    DemoUser("analyst", roles.SECURITY_ANALYST, "Ana Lyssenko"),
    DemoUser("auditor", roles.AUDITOR, "Audrey Tanaka"),
    DemoUser("agent", roles.CALL_CENTRE_AGENT, "Cal Centeno"),
)


@transaction.atomic
def demo_users_seed() -> list[DemoUser]:
    """Create or reset the demo users: staff, in exactly their role's group, known password."""
    user_model = get_user_model()
    roles.roles_sync()
    for demo in DEMO_USERS:
        first, last = demo.full_name.split(" ", 1)
        user, _ = user_model.objects.update_or_create(
            username=demo.username,
            defaults={
                "first_name": first,
                "last_name": last,
                "email": f"{demo.username}@breachdesk.invalid",
                "is_staff": True,
                "is_superuser": False,
                "is_active": True,
            },
        )
        if not user.check_password(demo.password):
            user.set_password(demo.password)
            user.save(update_fields=["password"])
        user.groups.set([Group.objects.get(name=demo.role)])
    return list(DEMO_USERS)


def demo_seed(*, stdout: OutputWrapper) -> list[DemoUser]:
    from config.demo_story import demo_customers_seed

    users = demo_users_seed()
    # The customers come first: every app's demo data hangs on them.
    demo_customers_seed(stdout=stdout)
    for app_config in apps.get_app_configs():
        seed = getattr(app_config, "seed_demo", None)
        if seed is not None:
            seed(stdout=stdout)
    return users

from django.contrib.auth.models import Group


def granted(role: str, app_label: str | None = None) -> set[str]:
    """The permissions a role's group holds, as "app_label.codename", optionally in one app."""
    permissions = Group.objects.get(name=role).permissions.select_related("content_type")
    if app_label:
        permissions = permissions.filter(content_type__app_label=app_label)
    return {f"{p.content_type.app_label}.{p.codename}" for p in permissions}

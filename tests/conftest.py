import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group


@pytest.fixture
def make_user(db):
    """A staff user holding the given roles (group names), never a superuser."""

    def make(username: str = "someone", *roles: str):
        user = get_user_model().objects.create_user(
            username=username, password="a-long-test-password", is_staff=True
        )
        user.groups.set(Group.objects.filter(name__in=roles))
        return user

    return make

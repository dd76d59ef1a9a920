import pytest

from config import roles


@pytest.fixture
def marketing(make_user):
    return make_user("mo", roles.MARKETING_OPERATOR)


@pytest.fixture
def legal(make_user):
    return make_user("lena", roles.LEGAL_REVIEWER)


@pytest.fixture
def cmo(make_user):
    return make_user("carla", roles.CMO)


@pytest.fixture
def ciso(make_user):
    return make_user("sven", roles.CISO)

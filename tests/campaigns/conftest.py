import pytest


@pytest.fixture(autouse=True)
def _campaign_settings(settings):
    settings.CAMPAIGNS_BATCH_SIZE = 5
    settings.CAMPAIGNS_FREQUENCY_CAP_MESSAGES = 3
    settings.CAMPAIGNS_FREQUENCY_CAP_DAYS = 7
    settings.CAMPAIGNS_QUIET_PERIOD_DAYS = 14
    settings.CAMPAIGNS_AUTO_PAUSE_ON_SCOPE = True

"""The email providers' tracking webhooks: /webhooks/<provider>/tracking/."""

from django.urls import path

from .webhooks import PROVIDER_VIEWS

app_name = "webhooks"
urlpatterns = [
    path(f"{provider}/tracking/", view.as_view(), name=f"{provider}_tracking")
    for provider, view in PROVIDER_VIEWS.items()
]

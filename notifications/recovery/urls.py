"""The recovery plan's public ends: the redemption link and the identity system's webhook."""

from django.urls import path

from . import views

app_name = "recovery"
urlpatterns = [
    path("redeem/<str:token>/", views.redeem, name="redeem"),
    path("identity/password-resets/", views.identity_password_resets, name="identity_resets"),
]

"""The Django app config: build the integration from settings and connect the signals when Django is ready."""

from __future__ import annotations

from django.apps import AppConfig


class AuthlogConfig(AppConfig):
    name = "shippers.contrib.django"
    label = "authlog"  # "django" would clash with nothing today, but says nothing either
    verbose_name = "authlog-shipper"

    def ready(self) -> None:
        from shippers.contrib.django import checks, install

        checks.register()
        install.install()

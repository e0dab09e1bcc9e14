"""``manage.py check``: every problem of AUTHLOG and AUTHLOG_INTEGRATION, each under its key.

::

    authlog.E001  a problem in AUTHLOG / AUTHLOG_INTEGRATION (the message starts with the key)
    authlog.E002  a dotted path in AUTHLOG_INTEGRATION.events or .tenant that does not import
    authlog.W001  views are mapped but AuthlogMiddleware is not in MIDDLEWARE (they would never ship)
    authlog.W002  embedded mode with a budget set: [buffer] emit_timeout is longer (a full store holds a login that long)
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks

MIDDLEWARE_PATH = "shippers.contrib.django.middleware.AuthlogMiddleware"


def authlog_check(app_configs: Any = None, **_: Any) -> list[checks.CheckMessage]:
    from shippers.contrib.django import install

    integration = install.current()
    found: list[checks.CheckMessage] = [checks.Error(p, id="authlog.E001") for p in integration.problems]
    found += [checks.Error(p, id="authlog.E002") for p in install.target_problems()]
    try:
        integration.tenant_callable()
    except Exception as exc:
        found.append(checks.Error(f"AUTHLOG_INTEGRATION.tenant: {integration.settings.tenant!r} is not an importable "
                                  f"callable ({type(exc).__name__}: {exc})", id="authlog.E002"))
    if install._views and MIDDLEWARE_PATH not in getattr(settings, "MIDDLEWARE", []):
        found.append(checks.Warning("AUTHLOG_INTEGRATION.events maps views, but they ship only through the middleware",
                                    hint=f"add {MIDDLEWARE_PATH!r} to MIDDLEWARE", id="authlog.W001"))
    config = integration.config
    budget_set = "budget" in (getattr(settings, "AUTHLOG_INTEGRATION", None) or {})
    if budget_set and integration.settings.mode == "embedded" and config is not None \
            and config.buffer.emit_timeout > integration.settings.budget:
        found.append(checks.Warning(
            f"AUTHLOG.buffer.emit_timeout ({config.buffer.emit_timeout:g}s) is longer than AUTHLOG_INTEGRATION.budget "
            f"({integration.settings.budget:g}s): a full store holds a login that long",
            hint=f"set AUTHLOG['buffer']['emit_timeout'] = '{integration.settings.budget * 1000:g}ms'", id="authlog.W002"))
    return found


def register() -> None:
    checks.register(authlog_check, "authlog")

"""Framework integrations: Django (``shippers.contrib.django``), Flask (``shippers.contrib.flask``) and
FastAPI / Starlette (``shippers.contrib.starlette``, also importable as ``shippers.contrib.fastapi``).

Each turns the framework's own auth moments (signals, views, explicit helpers) into catalog events,
configured from the app's settings: ``AUTHLOG`` (the keys of ``authlog.toml``, or ``{"config": PATH}``)
and ``AUTHLOG_INTEGRATION`` (the integration's own keys, :mod:`shippers.contrib.settings`).

The framework-free parts live beside them, one job each:

::

    settings.py      AUTHLOG_INTEGRATION -> IntegrationSettings; AUTHLOG -> Config / the catalog
    moments.py       the auth moments and the catalog type each maps to (EventMap)
    facts.py         request facts (ip, user agent, trace id) and field values cut to the core's limits
    failed_login.py  a failed login -> login.invalid_email or login.invalid_password (one lookup)
    drops.py         authlog_app_dropped_total{reason} in the app's registry + a log line a minute
    spool.py         the small SQLite store that holds events while the sidecar is slow or down
    forwarder.py     the background thread that moves spooled events to the sidecar
    sidecar.py       sidecar mode: one attempt within the budget, then spool or drop
    embedded.py      embedded mode: shippers.configure() / emit() in this process
    integration.py   settings + one runtime per process (rebuilt after a fork); record() never raises
    helpers.py       AuthEvents: the explicit helpers every framework offers (login_failed(...), ...)
    gunicorn.py      the post_fork hook

Nothing here imports a framework: only the framework modules do, so the core install stays small
(``pip install authlog-shipper[django]`` / ``[flask]`` / ``[fastapi]`` brings the framework).
"""

"""The framework-free integration: settings read once, a runtime per process, and ``ship()`` that never raises.

Each framework module builds one :class:`Integration` from the app's settings and calls it from
its signals, views and helpers::

    integration = Integration.from_settings(settings.AUTHLOG, settings.AUTHLOG_INTEGRATION, base_dir=BASE_DIR)
    integration.moment("login", integration.facts(request, ip=..., user_agent=..., traceparent=...), user_id=user.pk)

Reading the settings opens nothing (no store, no socket, no thread), so it is safe in a process
that will fork (gunicorn ``--preload``). The runtime (the embedded shipper, or the sidecar client,
spool and forwarder) is built in the process that ships: by :meth:`Integration.start` (gunicorn's
``post_fork``, a Starlette lifespan, the first request) or else by the first event. A forked child
drops the parent's runtime untouched (``os.register_at_fork``) and builds its own.

Settings with problems never raise into the app: each problem is logged once at start-up (and
listed by ``manage.py check``), and every event is counted as ``not_configured``.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
import uuid_utils
from prometheus_client import CollectorRegistry

from shippers.catalog import Catalog, load_catalog
from shippers.config import Config
from shippers.contrib import facts as clean
from shippers.contrib.drops import DropCounter
from shippers.contrib.embedded import EmbeddedDelivery
from shippers.contrib.facts import RequestFacts
from shippers.contrib.failed_login import UserLookup, classify
from shippers.contrib.moments import EventMap, build_event_map
from shippers.contrib.settings import (
    INTEGRATION_KEY,
    IntegrationSettings,
    catalog_only,
    parse_integration,
    shipper_config,
)
from shippers.contrib.sidecar import SidecarDelivery, Wait
from shippers.contrib.spool import Spool
from shippers.contrib.transport import ClientTransport, SidecarTransport
from shippers.errors import BufferError, ConfigError, ValidationError
from shippers.event import EventValidator, format_time

log = logging.getLogger("shippers.contrib")

# Fields a bad value costs only themselves: the event is shipped without the field (never lost for it).
OPTIONAL_FIELDS = ("email", "ip", "userAgent", "traceId", "tenantId", "userId", "reason", "details")

_encoder = msgspec.json.Encoder()


def _event_wait(event: threading.Event, seconds: float) -> bool:
    return event.wait(seconds)


@dataclass(frozen=True)
class Plumbing:
    """What tests inject; the defaults are the real things."""

    transport: Callable[[IntegrationSettings], SidecarTransport] | None = None
    monotonic: Callable[[], float] = time.monotonic
    clock: Callable[[], float] = time.time
    wait: Wait = _event_wait  # how the request waits for the sidecar's answer (at most the budget)
    forwarder_wait: Wait | None = None  # how the spool forwarder pauses between rounds
    start_forwarder: bool = True


# Runtimes a forked child inherited: kept referenced so nothing of the parent's is closed in the child.
_inherited: list[object] = []
_live: weakref.WeakSet[Integration] = weakref.WeakSet()


def live_integrations() -> list[Integration]:
    """Every integration this process built (what gunicorn's post_fork starts)."""
    return list(_live)


def _after_fork_in_child() -> None:
    for integration in list(_live):
        integration._forget_after_fork()


os.register_at_fork(after_in_child=_after_fork_in_child)


def import_dotted(path: str) -> Any:
    """The object at ``package.module.name`` (or ``package.module:name``)."""
    module, sep, name = path.partition(":")
    if not sep:
        module, _, name = path.rpartition(".")
    if not module or not name:
        raise ImportError(f"{path!r} is not a dotted path like 'myapp.tenancy.tenant_of'")
    target: Any = importlib.import_module(module)
    for part in name.split("."):
        target = getattr(target, part)
    return target


class Integration:
    """Settings, the event map and this process's runtime; see the module docstring."""

    def __init__(
        self,
        settings: IntegrationSettings,
        *,
        config: Config | None,
        catalog: Catalog,
        problems: Sequence[str] = (),
        registry: CollectorRegistry | None = None,
        plumbing: Plumbing | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.catalog = catalog
        self.plumbing = plumbing or Plumbing()
        self.event_map: EventMap
        self.event_map, map_problems = build_event_map(settings.events, catalog, INTEGRATION_KEY)
        self.problems = [*problems, *map_problems]
        if settings.mode == "embedded" and config is None and not self.problems:
            self.problems.append("AUTHLOG: required in embedded mode (the keys of authlog.toml, or {'config': PATH}); "
                                 f"or set {INTEGRATION_KEY}['mode'] = 'sidecar'")
        self.drops = DropCounter(registry, self.plumbing.monotonic)
        self.validator = EventValidator(catalog, self.plumbing.clock)
        self._lock = threading.Lock()
        self._runtime: EmbeddedDelivery | SidecarDelivery | None = None
        self._tenant: Callable[[Any], Any] | None = None
        _live.add(self)
        for problem in self.problems:
            log.error("authlog: %s (auth events are not shipped until this is fixed)", problem)

    @classmethod
    def from_settings(
        cls,
        authlog: Mapping[str, Any] | None,
        integration: Mapping[str, Any] | None,
        *,
        base_dir: Path,
        registry: CollectorRegistry | None = None,
        plumbing: Plumbing | None = None,
    ) -> Integration:
        """Read both settings; never raises (problems are kept in ``.problems``)."""
        settings, problems = parse_integration(integration, base_dir)
        config: Config | None = None
        catalog: Catalog | None = None
        try:
            if settings.mode == "embedded" and authlog is not None:
                config = shipper_config(authlog, base_dir)
                catalog = load_catalog(Path(config.catalog.extra) if config.catalog.extra else None)
            elif settings.mode == "sidecar":
                catalog = catalog_only(authlog, base_dir)
        except ConfigError as exc:
            problems += exc.problems
        if registry is None and settings.registry is not None:
            try:
                registry = import_dotted(settings.registry)
            except (ImportError, AttributeError) as exc:
                problems.append(f"{INTEGRATION_KEY}.registry: cannot import {settings.registry!r} ({exc})")
            else:
                if not isinstance(registry, CollectorRegistry):
                    problems.append(f"{INTEGRATION_KEY}.registry: {settings.registry!r} is not a prometheus_client CollectorRegistry")
                    registry = None
        return cls(settings, config=config, catalog=catalog or load_catalog(None), problems=problems,
                   registry=registry, plumbing=plumbing)

    # -- the runtime of this process ---------------------------------------------------
    def start(self) -> bool:
        """Build this process's runtime now (post_fork, lifespan); False when the settings have problems."""
        _live.add(self)
        return self._runtime_here() is not None

    def _runtime_here(self) -> EmbeddedDelivery | SidecarDelivery | None:
        if self.problems:
            return None
        runtime = self._runtime
        if runtime is not None:
            return runtime
        with self._lock:
            if self._runtime is None:
                self._runtime = self._build_runtime()
            return self._runtime

    def _build_runtime(self) -> EmbeddedDelivery | SidecarDelivery:
        settings, plumbing = self.settings, self.plumbing
        if settings.mode == "embedded":
            assert self.config is not None  # a problem otherwise (see __init__)
            return EmbeddedDelivery(self.config, self.drops)
        make = plumbing.transport or (lambda s: ClientTransport(s.sidecar_url, s.sidecar_token))
        spool = Spool(settings.spool_path, settings.spool_max_bytes) if settings.on_slow == "spool" else None
        return SidecarDelivery(make(settings), self.drops, on_slow=settings.on_slow, spool=spool,
                               monotonic=plumbing.monotonic, wait=plumbing.wait,
                               forwarder_wait=plumbing.forwarder_wait, start_forwarder=plumbing.start_forwarder)

    def _forget_after_fork(self) -> None:
        self._lock = threading.Lock()  # another thread of the parent may have held it at the fork
        if self._runtime is not None:
            _inherited.append(self._runtime)
            self._runtime = None

    def close(self, timeout: float = 10.0) -> None:
        """Flush and stop this process's runtime (a Starlette lifespan's end, tests)."""
        _live.discard(self)  # a closed integration is not started again by post_fork
        with self._lock:
            runtime, self._runtime = self._runtime, None
        if runtime is not None:
            runtime.close(timeout)

    @property
    def runtime(self) -> EmbeddedDelivery | SidecarDelivery | None:
        """This process's runtime, if built."""
        return self._runtime

    # -- request facts -------------------------------------------------------------------
    def facts(self, request: Any, *, ip: Any = None, user_agent: Any = None, traceparent: Any = None) -> RequestFacts:
        """The request's facts, each made safe; the tenant comes from the ``tenant`` callable."""
        return RequestFacts(clean.client_ip(ip), clean.user_agent(user_agent), clean.trace_id(traceparent),
                            self._tenant_of(request))

    def tenant_callable(self) -> Callable[[Any], Any] | None:
        """The ``tenant`` setting's callable (imported once); raises ImportError/AttributeError when it is wrong."""
        if self.settings.tenant is None:
            return None
        if self._tenant is None:
            found = import_dotted(self.settings.tenant)
            if not callable(found):
                raise TypeError(f"{self.settings.tenant} is not callable")
            self._tenant = found
        return self._tenant

    def _tenant_of(self, request: Any) -> str | None:
        if request is None or self.settings.tenant is None:
            return None
        try:
            tenant = self.tenant_callable()
            return clean.identifier(tenant(request)) if tenant is not None else None
        except Exception as exc:  # the app's callable failed: the event goes without a tenant
            log.debug("authlog: the tenant callable raised %s", type(exc).__name__)
            return None

    # -- shipping --------------------------------------------------------------------------
    def moment(self, moment: str, facts: RequestFacts, **fields: Any) -> bool:
        """Ship ``moment`` as its mapped type; False when it maps to none (or was dropped)."""
        kind = self.event_map.type_for(moment)
        return False if kind is None else self.ship(kind, facts, **fields)

    def failed_login(self, facts: RequestFacts, *, username: Any = None, lookup: UserLookup | None = None,
                     user_id: Any = None, details: Mapping[str, Any] | None = None) -> bool:
        """A failed login for ``username`` (never a password): invalid_email or invalid_password, see failed_login.py."""
        fallback = self.event_map.type_for("login_failed")
        if fallback is None:
            return False
        if user_id is not None:  # the app knows whose password was wrong
            return self.ship("login.invalid_password", facts, user_id=user_id, email=username, details=details)
        kind, found = classify(username, lookup if self.settings.failed_login_lookup else None, fallback)
        return self.ship(kind, facts, user_id=found.get("userId"), email=found.get("email"), details=details)

    def ship(self, kind: str, facts: RequestFacts, *, user_id: Any = None, email: Any = None, tenant_id: Any = None,
             reason: str | None = None, details: Mapping[str, Any] | None = None) -> bool:
        """Ship one event of catalog type ``kind``; never raises. False when it was counted as dropped."""
        try:
            return self._ship(kind, facts, user_id, email, tenant_id, reason, details)
        except Exception as exc:  # nothing the integration does may break the app's auth flow
            self.drops("internal_error", type(exc).__name__)
            return False

    def _ship(self, kind: str, facts: RequestFacts, user_id: Any, email: Any, tenant_id: Any, reason: str | None,
              details: Mapping[str, Any] | None) -> bool:
        if self.problems:
            self.drops("not_configured", "the settings have problems, logged at start-up")
            return False
        deadline = self.plumbing.monotonic() + self.settings.budget
        wire: dict[str, Any] = {
            "id": str(uuid_utils.uuid7()),
            "type": kind,
            "time": format_time(datetime.fromtimestamp(self.plumbing.clock(), UTC)),
            **facts.fields(),
            "userId": clean.identifier(user_id),
            "email": clean.email(email),
            "reason": reason,
            "details": dict(details) if details is not None else None,
        }
        if tenant_id is not None:
            wire["tenantId"] = clean.identifier(tenant_id)
        wire = {k: v for k, v in wire.items() if v is not None}
        if not self._valid(wire):
            self.drops("invalid", "an event did not pass the catalog's checks (its type or reason)")
            return False
        try:
            runtime = self._runtime_here()
        except BufferError as exc:  # the store cannot be opened (yet): tried again by the next event
            self.drops("store_unavailable", str(exc))
            return False
        if runtime is None:
            return False
        if isinstance(runtime, EmbeddedDelivery):
            return runtime.deliver(wire)
        return runtime.deliver(wire["id"], _encoder.encode(wire), deadline)

    def _valid(self, wire: dict[str, Any]) -> bool:
        """Check ``wire`` as the shipper will; a bad optional field is removed (the event is kept)."""
        for _ in range(len(OPTIONAL_FIELDS) + 1):
            try:
                self.validator.from_fields(wire)
                return True
            except ValidationError as exc:
                if exc.field in OPTIONAL_FIELDS and exc.field in wire:
                    del wire[exc.field]
                    continue
                if not exc.field and "details" in wire:  # not JSON-serialisable, nested too deep: the app's details
                    del wire["details"]
                    continue
                return False
        return False

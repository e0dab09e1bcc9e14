"""authlog-shipper: ship catalog-checked authentication events to S3, Elasticsearch, Datadog and Cloud Logging.

The public face of the core. Most apps need only::

    import shippers
    shippers.configure("authlog.toml")          # or a dict with the same keys
    shippers.emit("login.completed", userId="u-7", ip="203.0.113.7")

and, for apps that log, :class:`shippers.AuthEventHandler`.
"""

from __future__ import annotations

# The public names load lazily (PEP 562): importing a submodule such as ``adapters.contract``
# must not drag the whole pipeline in first, or the two packages import each other in a circle.
_EXPORTS = {
    "AuthEventHandler": "shippers.logging_handler",
    "BufferFullError": "shippers.errors",
    "BufferUnavailableError": "shippers.errors",
    "ValidationError": "shippers.errors",
    "Shipper": "shippers.shipper",
    "configure": "shippers.api",
    "emit": "shippers.api",
    "get_shipper": "shippers.api",
    "shutdown": "shippers.api",
}

__all__ = ["__version__", *_EXPORTS]


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("authlog-shipper")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0.0.0+unknown"


def __getattr__(name: str) -> object:
    if name == "__version__":  # read on first use: importlib.metadata costs a probe (`authlog health`) ~15 ms
        globals()["__version__"] = found = _installed_version()
        return found
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'shippers' has no attribute {name!r}")

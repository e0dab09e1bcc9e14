"""authlog-shipper: ship catalog-checked authentication events to S3, Elasticsearch, Datadog and Cloud Logging.

The public face of the core. Most apps need only::

    import shippers
    shippers.configure("authlog.toml")          # or a dict with the same keys
    shippers.emit("login.completed", userId="u-7", ip="203.0.113.7")

and, for apps that log, :class:`shippers.AuthEventHandler`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("authlog-shipper")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from shippers.api import configure, emit, get_shipper, shutdown  # noqa: E402
from shippers.errors import BufferFullError, ValidationError  # noqa: E402
from shippers.logging_handler import AuthEventHandler  # noqa: E402
from shippers.shipper import Shipper  # noqa: E402

__all__ = [
    "AuthEventHandler",
    "BufferFullError",
    "Shipper",
    "ValidationError",
    "__version__",
    "configure",
    "emit",
    "get_shipper",
    "shutdown",
]

"""authlog-shipper: ship catalog-checked authentication events to S3, Elasticsearch, Datadog and Cloud Logging.

The public face of the core. Most users need only::

    import shippers
    shippers.configure("authlog.toml")          # or a dict with the same keys
    shippers.emit("login.completed", userId="u-7", ip="203.0.113.7")
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("authlog-shipper")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

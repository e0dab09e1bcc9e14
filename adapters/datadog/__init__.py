"""The ``datadog`` adapter: authentication events as Datadog logs with standard attributes (Cloud SIEM ready)."""

from adapters.datadog.adapter import DatadogAdapter
from adapters.datadog.config import DatadogConfig

__all__ = ["DatadogAdapter", "DatadogConfig"]

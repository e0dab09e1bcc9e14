"""The ``datadog`` adapter: authentication events as Datadog logs with standard attributes (Cloud SIEM ready)."""

from adapters.sdk import importing_sdk

with importing_sdk("datadog", "datadog", "datadog_api_client"):  # the SDK is the [datadog] extra
    from adapters.datadog.adapter import DatadogAdapter
    from adapters.datadog.config import DatadogConfig

__all__ = ["DatadogAdapter", "DatadogConfig"]

"""The ``cloud_logging`` adapter: authentication events as Google Cloud Logging LogEntries."""

from adapters.sdk import importing_sdk

with importing_sdk("cloud_logging", "cloud-logging", "google"):  # the SDK is the [cloud-logging] extra
    from adapters.cloud_logging.adapter import CloudLoggingAdapter
    from adapters.cloud_logging.config import CloudLoggingConfig

__all__ = ["CloudLoggingAdapter", "CloudLoggingConfig"]

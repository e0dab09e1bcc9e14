"""The ``cloud_logging`` adapter: authentication events as Google Cloud Logging LogEntries."""

from adapters.cloud_logging.adapter import CloudLoggingAdapter
from adapters.cloud_logging.config import CloudLoggingConfig

__all__ = ["CloudLoggingAdapter", "CloudLoggingConfig"]

"""The delivery core: one attempt at a destination, classified, redacted, cut, settled and retried."""

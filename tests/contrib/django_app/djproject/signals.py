"""A signal of the project's own, mapped to a catalog type in AUTHLOG_INTEGRATION["events"]."""

from django.dispatch import Signal

email_verified = Signal()  # sent with request= and user=

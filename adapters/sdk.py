"""A destination's SDK is an extra of the package: importing an adapter without it names the extra to install.

``pip install authlog-shipper`` installs the core and the ``file`` sink; each destination's SDK comes
with its extra (``[s3]``, ``[elasticsearch]``, ``[datadog]``, ``[cloud-logging]``, or ``[all]``). An
adapter package imports its modules through :func:`importing_sdk`, so a missing SDK is a
:class:`MissingSdkError` that says which extra to install (``shippers.plugins`` turns it into the
config problem of every sink of that type) instead of a bare ``ModuleNotFoundError``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

DISTRIBUTION = "authlog-shipper"


class MissingSdkError(ImportError):
    """The SDK an adapter needs is not installed; the message says what to ``pip install``."""


@contextmanager
def importing_sdk(sink_type: str, extra: str, *modules: str) -> Iterator[None]:
    """Inside the block, a missing ``modules`` (top-level names, e.g. ``"boto3"``) raises :class:`MissingSdkError`."""
    try:
        yield
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").partition(".")[0]
        if missing not in {module.partition(".")[0] for module in modules}:
            raise  # not the SDK: a bug or a broken install, shown as it is
        raise MissingSdkError(
            f"the {sink_type!r} sink needs the Python package {exc.name!r}, which is not installed: "
            f"pip install '{DISTRIBUTION}[{extra}]' (or '{DISTRIBUTION}[all]')",
            name=exc.name,
        ) from None

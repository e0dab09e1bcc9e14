"""One attempt to post events to the sidecar, and what came of it (``Outcome``), never an exception.

:class:`ClientTransport` is the real one, over :class:`shippers.client.Client` with retries off
(the integration decides what a failure means: spool, drop or try later). Tests inject their own
``SidecarTransport`` (a slow one, a stopped one) through ``Plumbing.transport``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from shippers.client import NO_RETRY, Client, ClientError, RequestRejected, SidecarUnavailable

# Why: a send that outlives the budget keeps its slot until it ends; 5 s frees the slot of a hung
# sidecar while sparing one that only answers slowly (its store fsyncing under load).
SEND_TIMEOUT_SECONDS = 5.0

OutcomeKind = Literal["accepted", "rejected", "unauthorized", "unavailable", "timeout"]


@dataclass(frozen=True)
class Outcome:
    """What one post came to.

    accepted      the sidecar stored the events but ``rejected`` (indexes it refused, 422)
    rejected      it refused the request itself (400, 413, 415): resending cannot help
    unauthorized  401 / 403: the token is wrong; resending helps once it is fixed
    unavailable   nothing listens, a 5xx, a 503 (its store full)
    timeout       no answer within the send's timeout
    """

    kind: OutcomeKind
    rejected: tuple[int, ...] = ()
    status: int | None = None


class SidecarTransport(Protocol):
    def send(self, lines: Sequence[bytes]) -> Outcome: ...

    def close(self) -> None: ...


def _timed_out(exc: BaseException) -> bool:
    """True when a TimeoutError is in the exception's chain of causes."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, TimeoutError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ClientTransport:
    """Post NDJSON lines with :class:`Client`, one attempt."""

    def __init__(self, url: str, token: str | None, timeout: float = SEND_TIMEOUT_SECONDS) -> None:
        self.client = Client(url, token=token, timeout=timeout, retry=NO_RETRY)

    def send(self, lines: Sequence[bytes]) -> Outcome:
        try:
            result = self.client.send_lines(lines)
        except RequestRejected as exc:
            kind: OutcomeKind = "unauthorized" if exc.status in (401, 403) else "rejected"
            return Outcome(kind, status=exc.status)
        except SidecarUnavailable as exc:
            return Outcome("timeout" if _timed_out(exc) else "unavailable", status=exc.status)
        except (ClientError, OSError) as exc:
            return Outcome("unavailable", status=getattr(exc, "status", None))
        return Outcome("accepted", tuple(index for index, _ in result.rejected), result.status)

    def close(self) -> None:
        self.client.close()

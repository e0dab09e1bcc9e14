"""What an endpoint counted: events it acknowledged, distinct ids among them, copies it refused.

One :class:`Tally` per endpoint process; :class:`Counted` is the picklable snapshot the parent
reads. "Exactly once" means every event the run sent is stored once: ``events == distinct ==
sent``. A copy the destination refused as already there (Elasticsearch's 409, S3's 412) is
counted in ``refused``, not in ``events``: it was answered, not stored twice.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Counted:
    """A snapshot of a :class:`Tally`."""

    events: int  # events acknowledged as stored (each repeat of an id counts again)
    distinct: int  # distinct ids among the stored events
    refused: int  # copies refused as already there (409 items, 412 objects)
    requests: int  # requests answered with the destination's success (the write requests)
    objects: int = 0  # S3: objects stored

    def exactly_once(self, sent: int) -> bool:
        """Whether each of ``sent`` events is stored once, none lost, none doubled."""
        return self.events == self.distinct == sent

    def line(self) -> str:
        extra = f", {self.objects} objects" if self.objects else ""
        return (f"{self.events} events, {self.distinct} distinct ids, {self.refused} refused as already there, "
                f"{self.requests} requests{extra}")  # fmt: skip


class Tally:
    """Counts stored events by id; ``None`` ids (an event that carries none) count as events only."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.copies: Counter[str] = Counter()
        self.events = 0
        self.refused = 0
        self.requests = 0
        self.objects = 0

    def stored(self, ids: Sequence[str | None]) -> None:
        """Events stored, by their ids."""
        self.events += len(ids)
        self.copies.update(event_id for event_id in ids if event_id is not None)

    def removed(self, ids: Iterable[str | None]) -> None:
        """Events no longer stored (an S3 object overwritten without a precondition)."""
        for event_id in ids:
            self.events -= 1
            if event_id is not None:
                self.copies[event_id] -= 1
                if not self.copies[event_id]:
                    del self.copies[event_id]

    def snapshot(self) -> Counted:
        return Counted(self.events, len(self.copies), self.refused, self.requests, self.objects)


class Counting:
    """The base of an endpoint app whose state is its tally (an app with more state extends ``reset``)."""

    def __init__(self) -> None:
        self.tally = Tally()

    def reset(self) -> None:
        """Forget everything counted, as a fresh destination."""
        self.tally.reset()

    def counted(self) -> Counted:
        return self.tally.snapshot()

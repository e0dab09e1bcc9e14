"""Names on the JetStream side, and the headers that carry an event's routing columns (pure).

::

    stream   <stream>            subjects authlog.<stream>.>     the events, R<replicas>
             authlog.<stream>.all               every sink's events (ingest)
             authlog.<stream>.only.<sink>       one sink's events (a DLQ replay)
    stream   <stream>_DLQ        subjects authlog-dlq.<stream>.<sink>   dead letters, one subject per sink
    consumer <sink> on <stream>  durable, pull, explicit acks, filters all + only.<sink>: shared by the fleet
    bucket   <stream>_members    key = member id, value = its heartbeat (JSON), TTL-limited
    bucket   <stream>_cuts       key = <sink>.<first stream seq>, value = a keyed batch before it is sent (cuts.py)

The routing columns (type, outcome, tenant) travel as headers so a member routes without
decoding the body; ``Nats-Msg-Id`` is the event id, so the stream drops a resend within its
duplicate window.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nats.js import JetStreamContext

from shippers.buffer.records import StoredRow

MSG_ID = "Nats-Msg-Id"
TYPE = "Authlog-Type"
OUTCOME = "Authlog-Outcome"
TENANT = "Authlog-Tenant"
# a tenant a header value would not carry as sent (nats-py strips it and turns CR/LF into spaces; the stream's
# own reads parse headers as e-mail headers): JSON, ASCII-escaped, instead of TENANT
TENANT_JSON = "Authlog-Tenant-Json"
RECEIVED = "Authlog-Received"
PII = "Authlog-Pii"
# on dead letters
CODE = "Authlog-Code"
REASON = "Authlog-Reason"
ORIGIN_SEQ = "Authlog-Seq"
DEAD_AT = "Authlog-At"


@dataclass(frozen=True)
class Names:
    """Every name derived from ``[buffer] stream``."""

    stream: str

    @property
    def subjects(self) -> str:
        return f"authlog.{self.stream}.>"

    @property
    def ingest_subject(self) -> str:
        return f"authlog.{self.stream}.all"

    def only_subject(self, sink: str) -> str:
        return f"authlog.{self.stream}.only.{sink}"

    def consumer_filters(self, sink: str) -> list[str]:
        return [self.ingest_subject, self.only_subject(sink)]

    @property
    def dlq_stream(self) -> str:
        return f"{self.stream}_DLQ"

    @property
    def dlq_subjects(self) -> str:
        return f"authlog-dlq.{self.stream}.>"

    def dlq_subject(self, sink: str | None) -> str:
        return f"authlog-dlq.{self.stream}.{sink}" if sink is not None else self.dlq_subjects

    def sink_of_dlq_subject(self, subject: str) -> str:
        return subject.rsplit(".", 1)[1]

    @property
    def cuts_bucket(self) -> str:
        return f"{self.stream}_cuts"

    @property
    def members_bucket(self) -> str:
        return f"{self.stream}_members"


async def bucket_keys(js: JetStreamContext, bucket: str, prefix: str = "") -> list[str]:
    """The keys of a key-value bucket (starting with ``prefix``), read from its stream's subjects.

    Not ``KeyValue.keys()``: that makes a consumer for every call, and a status polled often runs a
    server out of consumers ("maximum consumers limit reached"). Deleted keys are listed too (their
    delete marker is a message): a ``get`` of one raises KeyNotFoundError.
    """
    subjects = f"$KV.{bucket}.{prefix}>"
    info = await js.stream_info(f"KV_{bucket}", subjects_filter=subjects)
    start = len(f"$KV.{bucket}.")
    return sorted(subject[start:] for subject in (info.state.subjects or {}))


def event_headers(event_id: str, kind: str, outcome: str, tenant: str | None, received: float, pii: str | None = None,
                  msg_id: str | None = None) -> dict[str, str]:
    """The headers of one published event (``msg_id`` overrides the event id: a replay is a new message)."""
    headers = {MSG_ID: msg_id or event_id, TYPE: kind, OUTCOME: outcome, RECEIVED: repr(received)}
    if tenant is not None and _carried_as_sent(tenant):
        headers[TENANT] = tenant
    elif tenant is not None:
        headers[TENANT_JSON] = json.dumps(tenant)
    if pii is not None:
        headers[PII] = pii
    return headers


def _carried_as_sent(value: str) -> bool:
    """Whether a header value comes back unchanged: printable ASCII without padding."""
    return value.isascii() and value.isprintable() and value == value.strip()


def _tenant(headers: dict[str, str]) -> str | None:
    quoted = headers.get(TENANT_JSON)
    return str(json.loads(quoted)) if quoted is not None else headers.get(TENANT)


def stored_row(seq: int, subject: str, headers: dict[str, str] | None, body: bytes, names: Names) -> StoredRow:
    """The row a sink scans for one message, numbered ``seq`` (the member's own numbering)."""
    headers = headers or {}
    prefix = f"authlog.{names.stream}.only."
    only_sink = subject[len(prefix):] if subject.startswith(prefix) else None
    return StoredRow(seq, float(headers.get(RECEIVED, "0")), headers.get(TYPE, ""), headers.get(OUTCOME, ""),
                     _tenant(headers), only_sink, body, headers.get(PII))

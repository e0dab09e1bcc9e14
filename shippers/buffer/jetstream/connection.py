"""Connecting a member to the JetStream servers, and the streams every member makes or checks at start.

The events stream is created when absent (subjects ``authlog.<stream>.>``, file storage, the
configured replicas and max_bytes, interest retention so an event leaves once every sink's consumer
acknowledged it, ``discard = new`` so a full stream refuses new events rather than dropping old ones) and checked when present: a stream made by someone else with other
subjects, replicas or discard policy is an error that says which. The DLQ stream is made the same way.
"""

from __future__ import annotations

import dataclasses
import ssl
from typing import Any

import nats
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from shippers.buffer.jetstream.names import Names
from shippers.buffer.records import SinkPolicy
from shippers.config import BufferConfig
from shippers.config_buffer import max_bytes_of
from shippers.errors import BufferCorruptError

# Why: JetStream's default duplicate window; a producer's resend within it is acknowledged as a
# duplicate (the README states it). Longer windows cost the servers memory per event id.
DUPLICATE_WINDOW_SECONDS = 120.0
# Why: the DLQ holds what a person must look at; a tenth of the events stream (at least 64 MiB) is room
# for a long outage of one sink's mapping without taking the events' space.
DLQ_SHARE = 10
DLQ_MIN_BYTES = 64 * 1024**2
# Why: a server that does not answer a connect within 2 s on a healthy network is down: try the next.
CONNECT_TIMEOUT_SECONDS = 2
# Why: between reconnect rounds over all servers; short, so ingest resumes soon after a cluster is back.
RECONNECT_WAIT_SECONDS = 0.5
# Why: the JetStream API answers in milliseconds; a leader election takes a few seconds.
API_TIMEOUT_SECONDS = 5.0


def connect_options(config: BufferConfig, name: str) -> dict[str, Any]:
    """Keyword arguments for ``nats.connect`` (credentials and TLS from the config; verification always on)."""
    options: dict[str, Any] = {
        "servers": list(config.servers), "name": name, "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "reconnect_time_wait": RECONNECT_WAIT_SECONDS, "max_reconnect_attempts": -1, "allow_reconnect": True,
    }
    if config.creds_file:
        options["user_credentials"] = str(config.creds_file)
    if config.nkey_seed_file:
        options["nkeys_seed"] = str(config.nkey_seed_file)
    if config.token:
        options["token"] = str(config.token)
    if config.user is not None:
        options["user"], options["password"] = config.user, str(config.password)
    tls = config.tls
    if tls.ca_file or tls.cert_file or any(url.startswith("tls://") for url in config.servers):
        context = ssl.create_default_context(cafile=tls.ca_file)  # verification on: CERT_REQUIRED, hostname checked
        if tls.cert_file and tls.key_file:
            context.load_cert_chain(tls.cert_file, tls.key_file)
        options["tls"] = context
    return options


async def connect(config: BufferConfig, name: str, **callbacks: Any) -> Client:
    async def quiet(exc: Exception) -> None:  # reconnects are expected; the store errors say what producers see
        return None

    return await nats.connect(**connect_options(config, name), error_cb=quiet, **callbacks)


def events_stream_config(config: BufferConfig, names: Names) -> StreamConfig:
    return StreamConfig(
        # interest: an event leaves the stream once every sink's consumer acknowledged it (the embedded store's GC);
        # with limits the stream would fill with delivered events and then refuse everything (discard = new)
        name=names.stream, subjects=[names.subjects], retention=RetentionPolicy.INTEREST, storage=StorageType.FILE,
        num_replicas=config.replicas, max_bytes=max_bytes_of(config), discard=DiscardPolicy.NEW,
        duplicate_window=DUPLICATE_WINDOW_SECONDS, description="authlog-shipper events (a fleet's shared buffer)",
    )


def dlq_stream_config(config: BufferConfig, names: Names) -> StreamConfig:
    return StreamConfig(
        name=names.dlq_stream, subjects=[names.dlq_subjects], retention=RetentionPolicy.LIMITS, storage=StorageType.FILE,
        num_replicas=config.replicas, max_bytes=max(DLQ_MIN_BYTES, max_bytes_of(config) // DLQ_SHARE),
        discard=DiscardPolicy.NEW, duplicate_window=DUPLICATE_WINDOW_SECONDS, description="authlog-shipper dead letters",
    )


async def ensure_stream(js: JetStreamContext, wanted: StreamConfig, location: str) -> None:
    """Create the stream when absent; when present, refuse one whose subjects, replicas or discard policy differ."""
    try:
        info = await js.stream_info(wanted.name or "")
    except NotFoundError:
        await js.add_stream(wanted)
        return
    have = info.config
    differences = []
    if list(have.subjects or []) != list(wanted.subjects or []):
        differences.append(f"subjects {have.subjects} (this config needs {wanted.subjects})")
    if have.num_replicas != wanted.num_replicas:
        differences.append(f"replicas {have.num_replicas} (this config says {wanted.num_replicas})")
    if have.retention != wanted.retention:
        differences.append(f"retention {have.retention} (needs {wanted.retention})")
    if have.discard != wanted.discard:
        differences.append(f"discard {have.discard} (needs 'new': a full stream must refuse events, not drop old ones)")
    differences += _losing_settings(have, wanted)
    if differences:
        raise BufferCorruptError(
            f"the JetStream stream {wanted.name!r} at {location} exists with {', '.join(differences)}; make [buffer] agree "
            "with it, or change the stream (nats stream edit) to match")
    if have.max_bytes != wanted.max_bytes:
        await js.update_stream(dataclasses.replace(have, max_bytes=wanted.max_bytes))


def _losing_settings(have: StreamConfig, wanted: StreamConfig) -> list[str]:
    """Settings of a stream made by another tool that would drop acknowledged events or shorten the duplicate window."""
    found = []
    if have.storage != wanted.storage:
        found.append(f"storage {have.storage} (needs {wanted.storage}: a memory stream loses every event when its servers restart)")
    if have.max_age:
        found.append(f"max_age {have.max_age:g}s (needs 0: events older than that would leave the stream unsent)")
    if have.max_msgs_per_subject not in (None, -1, 0):
        found.append(f"max_msgs_per_subject {have.max_msgs_per_subject} (needs -1: ingest uses one subject, so older events would be dropped)")
    if have.duplicate_window is not None and have.duplicate_window < (wanted.duplicate_window or 0):
        found.append(f"duplicate_window {have.duplicate_window:g}s (needs {wanted.duplicate_window:g}s: a resend within it must count as "
                     "a duplicate)")
    if have.no_ack or have.sealed or have.mirror is not None:
        found.append("no_ack, sealed or mirror set (needs none: members wait for the stream's acks)")
    return found


def check_consumer(have: ConsumerConfig, sink: str, filters: list[str], stream: str, location: str) -> None:
    """Refuse a sink's present consumer (made by another tool) that would lose events or hand the sink other subjects."""
    differences = []
    if have.ack_policy != AckPolicy.EXPLICIT:
        differences.append(f"ack_policy {have.ack_policy} (needs explicit: a message is acknowledged once its sink settled it)")
    if have.max_deliver not in (None, -1, 0):
        differences.append(f"max_deliver {have.max_deliver} (needs -1: past it the consumer would stop handing out an unsent event)")
    if have.inactive_threshold:
        differences.append(f"inactive_threshold {have.inactive_threshold:g}s (needs none: the server would delete the consumer)")
    given = sorted(have.filter_subjects or ([have.filter_subject] if have.filter_subject else []))
    if given != sorted(filters):
        differences.append(f"filter subjects {given} (needs {sorted(filters)})")
    if differences:
        raise BufferCorruptError(
            f"sink {sink!r}'s consumer on the JetStream stream {stream!r} at {location} exists with {', '.join(differences)}; "
            f"delete it (`authlog fleet remove-sink {sink}`, then start a member) or fix it with nats consumer edit")


# the consumer's metadata key holding the route its sink was created with (shippers.routing.route_text)
ROUTE = "authlog_route"


def route_conflict(have: ConsumerConfig, policy: SinkPolicy, stream: str) -> str | None:
    """Why a member may not deliver a sink it routes unlike the fleet's consumer (None: it may). The members share
    the consumer, and a member whose route leaves a type out acknowledges those events unsent, which another
    member's route would send."""
    made_with = (have.metadata or {}).get(ROUTE, "")
    if not made_with or not policy.route or made_with == policy.route:
        return None
    return (f"sinks.{policy.name}.route: this member routes {policy.route} but the fleet's consumer {policy.name!r} on stream "
            f"{stream!r} was created for {made_with}; every member must route a sink alike (a member that leaves events out "
            f"acknowledges them unsent): give this config the same route, or a new sink name for a new route")

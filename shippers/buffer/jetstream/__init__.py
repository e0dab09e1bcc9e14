"""The JetStream buffer (``[buffer] kind = "jetstream"``): a fleet of members shares one replicated stream.

- ``buffer.py``: :class:`JetStreamBuffer`, the :class:`~shippers.buffer.protocol.Buffer` over a stream
  (ingest: publish with ``Nats-Msg-Id`` and wait for the quorum's acks; stats, sinks, DLQ).
- ``source.py``: one sink's delivery source on this member (a durable pull consumer shared by the fleet).
- ``dlq.py``: dead letters in their own stream; ``members.py``: heartbeats in a key-value bucket.
- ``names.py``: stream, subject, consumer and bucket names, and the headers that carry routing columns.
- ``connection.py``: connect options (credentials, TLS) and the streams made or checked at start.
- ``loop.py``: the asyncio loop on its own thread that every call goes through.
- ``faults.py``: nats errors -> the store errors producers and operators see.
"""

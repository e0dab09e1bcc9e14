"""``authlog replay``: archived events (an s3 sink's NDJSON archive, a file sink's output) queued again for one sink.

sources.py lists and reads objects (partitions.py: which Hive partitions can hold the range), lines.py
validates each line again (honouring its ``pii`` object), targets.py knows the destinations' windows
and duplicates, run.py queues chunks with their checkpoints (``Buffer.append_replayed``).
"""

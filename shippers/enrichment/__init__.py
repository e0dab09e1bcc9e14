"""Enrichment at ingest: GeoIP, autonomous system and user-agent facts derived once per event.

``[enrich]`` names the MaxMind databases and whether user agents are parsed; the validator
(:mod:`shippers.event`) asks an :class:`~shippers.enrichment.enricher.Enricher` for an event's
:class:`~shippers.enrichment.model.Enrichment` after it is valid, and the stored line carries it
as its one optional ``enrichment`` object. Each sink's PII policy then decides what of it a
destination sees (:mod:`shippers.pii`).

- ``model.py``: the shape stored and shown (camelCase, only what is known);
- ``databases.py``: MaxMind readers, opened and checked (a config error naming the key);
- ``user_agent.py``: ua-parser (its native accelerator when installed) -> browser / OS / device;
- ``enricher.py``: the two together behind LRU caches.

This package's ``__init__`` imports nothing: ``shippers.config`` uses ``databases`` to check the keys.
"""

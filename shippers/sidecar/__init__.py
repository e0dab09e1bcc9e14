"""The sidecar: the HTTP ingest API of DESIGN.md in front of a :class:`~shippers.shipper.Shipper`.

One room per job::

    body.py     request body (JSON object | JSON array | NDJSON, gzip) -> list of item bytes   (pure)
    auth.py     bearer tokens, compared in constant time; which paths need one                   (pure)
    app.py      the aiohttp application: routes, status codes, the single writer thread
    server.py   run it: listen/TLS checks, signals, the shutdown order

``authlog run`` (:mod:`shippers.cli.run_cmds`) is the command that starts it.
"""

"""Fast counting endpoints that speak each destination's protocol, for throughput figures.

The pure-Python stand-ins in ``shippers.testing`` model faults faithfully but cost more CPU per
event than the shipper they would measure; these do only what a destination's success looks
like to the real SDK clients (CONTRACTS.md), fast, and count what they stored::

    http_core.py       a tiny HTTP/1.1 server (asyncio Protocol): keep-alive, Content-Length and
                       chunked bodies, Expect: 100-continue; decoded() undoes gzip / deflate
    process.py         each endpoint in its own spawned process; the parent's Endpoint handle
                       (url, pid, count(), reset(), wait_for(n), stop())
    tally.py           Tally / Counted: events stored, distinct ids, copies refused as already there
    elasticsearch.py   _bulk (create + _id, 409 for an _id seen before), templates, info, filter_path
    filter_path.py     Elasticsearch's response filtering (what our adapter and Logstash ask for)
    s3.py              path-style PutObject (If-None-Match: * -> 412), HeadObject, ETag
    datadog.py         Logs intake v2: 202 {}
    cloud_logging.py   entries:write: 200 {}

    from endpoints.elasticsearch import start_elasticsearch     # or bench.endpoints.elasticsearch
    with start_elasticsearch() as es:
        ... ship to es.url ...
        es.wait_for(100_000, timeout=600).exactly_once(100_000)
"""

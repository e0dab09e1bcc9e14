"""The delivery core: a sink's stored rows to its destination, in layers (docs/TEAM-NOTES.md, "Delivery layers")::

    Buffer (shippers.buffer.protocol) -> scan -> cut -> request -> attempt (send)
        -> classify -> settle -> retry

The layers that decide (mapping, cut, request, settle, the retry policy's arithmetic) take values
and return values, testable without threads or a store; sink_loop and deliverer run them against
the store on one thread per sink (a pool of ``concurrency`` threads for the sends).
"""

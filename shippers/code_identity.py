"""The identity of the installed code, so a child started after an in-place upgrade refuses to run under an older parent.

``authlog run`` starts its children (the ingest process, the delivery processes) with a fresh
``python``: after ``pip install -U authlog-shipper`` the next child would import the new code and
talk to the old parent over their socket protocol. The parent passes :func:`parent_identity` on the
child's command line (:mod:`shippers.child_entry`), and the child compares it with its own before it
imports anything else; on a mismatch it exits with CODE_CHANGED_EXIT, and the parent stops
restarting it (the sinks or ingest say why in ``/readyz`` and status).

The identity is a digest of (path, size, mtime) of every file of the ``shippers`` and ``adapters``
packages. Why this: an upgrade rewrites those files (new mtimes, and almost always new sizes), and so
does editing a source tree; ~220 stat calls cost ~0.6 ms, against ~15 ms for the installed version
(importlib.metadata), which an editable install or an edit would not change anyway, and a protocol
number bumped by hand is one a change can forget. A reinstall of the very same files also changes
it: refused too, the safe side (a restart fixes it). The version is only shown, read when needed.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os

# The packages this distribution installs (pyproject.toml [tool.setuptools.packages.find]).
PACKAGES = ("shippers", "adapters")
# Why: an exit status of its own (the delivery child's own are 3 and 4; Python's 1 and 2), so the parent
# tells "other code" from a crash and does not restart it.
CODE_CHANGED_EXIT = 5
# Why: 8 bytes of BLAKE2b name a code tree well past any collision between two installs.
DIGEST_BYTES = 8


class CodeChanged(RuntimeError):
    """A child refused to start: the installed code is not the code its parent runs (the message says both)."""


def code_digest() -> str:
    """A digest of the files of :data:`PACKAGES` as installed now (``__pycache__`` left out: children write it)."""
    digest = hashlib.blake2b(digest_size=DIGEST_BYTES)
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)  # found, not imported: an adapter's SDK stays out
        for root in (spec.submodule_search_locations or []) if spec else []:
            _add_tree(digest, root)
    return digest.hexdigest()


def _add_tree(digest: hashlib.blake2b, root: str) -> None:
    folders = [root]
    while folders:
        folder = folders.pop()
        try:
            with os.scandir(folder) as found:
                entries = sorted(found, key=lambda entry: entry.name)
        except OSError:  # a package inside a zip file has no folder: compared by what is listed
            continue
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != "__pycache__":
                    folders.append(entry.path)
            elif not entry.name.endswith(".pyc"):
                stat = entry.stat()
                digest.update(f"{entry.path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())


def installed_version() -> str:
    import shippers

    return str(shippers.__version__)  # importlib.metadata, read on first use


@functools.cache
def parent_identity() -> str:
    """This process's identity as ``DIGEST:VERSION``, computed once (at its first child's start, at start-up)."""
    return f"{code_digest()}:{installed_version()}"


def describe(identity: str) -> str:
    """``0.1.0 (code 1e4b6778...)`` from ``DIGEST:VERSION``."""
    digest, _, version = identity.partition(":")
    return f"{version or '?'} (code {digest})"


def mismatch(parent: str) -> str | None:
    """Why this process must not run under a parent of identity ``parent``, or None when the code is the same."""
    digest = code_digest()
    if parent.partition(":")[0] == digest:
        return None
    child = f"{digest}:{installed_version()}"  # the version is read only here: it costs ~15 ms
    return (f"authlog-shipper was upgraded while running: parent {describe(parent)}, child {describe(child)}; "
            "restart `authlog run` (the events wait in the buffer and are delivered after the restart)")

"""How every child of ``authlog run`` starts: ``python -m shippers.child_entry IDENTITY MODULE FD PARENT_PID``.

It first compares the parent's code identity with the installed code's
(:mod:`shippers.code_identity`), importing nothing of the child yet: code upgraded in place must
not run under the older parent. On a mismatch it logs one line, tells the parent over FD
(``("code_changed", why)`` in place of the children's start-up answer) and exits with CODE_CHANGED_EXIT. Otherwise it
runs ``MODULE.main()`` with ``sys.argv`` as ``python -m MODULE FD PARENT_PID`` would give it.
"""

from __future__ import annotations

import importlib
import os
import sys

from shippers.code_identity import CODE_CHANGED_EXIT, mismatch

# The modules authlog run starts as children: anything else on the command line is a mistake, not a child
# to import (this entry runs only what the package itself starts).
CHILDREN = frozenset({"shippers.delivery_process.child", "shippers.sidecar.ingest_child"})


def refuse(why: str, fd: int) -> None:
    """Log ``why``, answer the parent with it, and exit with CODE_CHANGED_EXIT."""
    import logging
    from multiprocessing.connection import Connection

    from shippers.child_process import LOG_FORMAT

    logging.basicConfig(format=LOG_FORMAT, stream=sys.stderr)
    logging.getLogger("shippers.child").error("%s (pid %d refuses to start)", why, os.getpid())
    try:
        Connection(fd).send(("code_changed", why))
    except OSError:
        pass  # the parent is gone: the exit status alone is enough
    sys.stderr.flush()
    os._exit(CODE_CHANGED_EXIT)


def main() -> None:
    identity, module = sys.argv[1], sys.argv[2]
    if module not in CHILDREN:
        sys.exit(f"shippers.child_entry starts only {', '.join(sorted(CHILDREN))}, not {module!r}")
    why = mismatch(identity)
    if why is not None:
        refuse(why, int(sys.argv[3]))
    sys.argv = [module, *sys.argv[3:]]
    importlib.import_module(module).main()


if __name__ == "__main__":
    main()

"""The peers' configurations: each reads the same JSON lines from a file and bulk-creates them by ``_id``.

rsyslog 8 (RainerScript)::

    imfile (inotify, from the start of the file) -> ruleset queue (2 workers) -> mmjsonparse (plain
    JSON, no @cee cookie) -> omelasticsearch: bulkmode, writeoperation create, bulkid = $!id
    (dynbulkid), the parsed fields as the document ($!all-json), 2 worker threads, batches of up
    to 1000 (what the queue holds when a worker takes a batch: rsyslog's default; its
    queue.minDequeueBatchSize, which waits for a full batch, made it slower here)

syslog-ng 3 ::

    wildcard-file source (picks the file up when it appears) -> json-parser (prefix .json.) ->
    http() destination posting {"create":{"_index","_id"}} + the re-serialised fields per event,
    2 workers, batch-lines(1000), flow control

Both retry forever rather than drop (rsyslog ``action.resumeRetryCount=-1``, syslog-ng's flow
control), as authlog does. Queues and windows hold WINDOW events in both (rsyslog's
``queue.size``, syslog-ng's ``log-iw-size`` / ``log-fifo-size``), not tuned further;
``max-files(1)``: a wildcard source divides its window (``log-iw-size``) among ``max-files``
(default 100), which would leave one file a window of 200 messages and throttle the source.

A fan-out (``run.py --fanout N``) gives each peer one bulk destination per endpoint, each as the
one above with its own queue or window, every event sent to all of them: N omelasticsearch
actions in rsyslog's ruleset (each its own action queue and workers), N http() destinations in
one syslog-ng log path (flow control: the slowest one paces the source), and N
``[sinks.esN]`` in authlog. One endpoint keeps the single destination's names (``es``, ``d_bulk``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

# Why: the same request size the sidecar's producer posts and authlog's default batch holds.
BATCH_EVENTS = 1000
# Why: the number of sending threads the comparison gives every peer.
WORKERS = 2
# Why: how long syslog-ng's sender waits to fill a batch of BATCH_EVENTS before it sends what it has.
BATCH_WAIT_MS = 100
# Why: events in flight inside a peer (queues, windows): 20 batches, the same for rsyslog and syslog-ng.
WINDOW = 20 * BATCH_EVENTS
INDEX = "authlog"


def destination_names(prefix: str, count: int) -> list[str]:
    """``prefix`` for one destination (what the single-endpoint run always called it), else prefix1..prefixN."""
    return [prefix] if count == 1 else [f"{prefix}{n}" for n in range(1, count + 1)]


def rsyslog_conf(work: Path, input_file: Path, ports: Sequence[int]) -> str:
    """imfile -> mmjsonparse -> one omelasticsearch action (its own queue) per port, every event to each."""
    actions = "".join(
        f"""  action(type="omelasticsearch" name="{name}" server="127.0.0.1" serverport="{port}" searchIndex="{INDEX}"
         template="document" bulkmode="on" bulkid="document_id" dynbulkid="on" writeoperation="create"
         queue.type="LinkedList" queue.size="{WINDOW}" queue.workerThreads="{WORKERS}"
         queue.dequeueBatchSize="{BATCH_EVENTS}" action.resumeRetryCount="-1" errorFile="{work}/{name}-errors.log")
"""
        for name, port in zip(destination_names("es", len(ports)), ports, strict=True)
    )
    return f"""global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
module(load="mmjsonparse")
module(load="omelasticsearch")
template(name="document" type="list") {{ property(name="$!all-json") }}
template(name="document_id" type="list") {{ property(name="$!id") }}
input(type="imfile" file="{input_file}" tag="authlog" ruleset="ship" freshStartTail="off")
ruleset(name="ship" queue.type="LinkedList" queue.size="{WINDOW}" queue.workerThreads="{WORKERS}"
        queue.dequeueBatchSize="{BATCH_EVENTS}") {{
  action(type="mmjsonparse" cookie="")
{actions}}}
"""


def syslog_ng_conf(input_dir: Path, ports: Sequence[int]) -> str:
    """wildcard-file -> json-parser -> one http() bulk destination per port in one log path, every event to each."""
    body = '{\\"create\\":{\\"_index\\":\\"' + INDEX + '\\",\\"_id\\":\\"${.json.id}\\"}}\\n$(format-json --key .json.* --shift 6)'
    names = destination_names("d_bulk", len(ports))
    destinations = "".join(
        f"""destination {name} {{
  http(url("http://127.0.0.1:{port}/_bulk") method("POST") headers("Content-Type: application/x-ndjson")
       body("{body}") delimiter("\\n") body-suffix("\\n")
       batch-lines({BATCH_EVENTS}) batch-timeout({BATCH_WAIT_MS}) workers({WORKERS}) log-fifo-size({WINDOW}));
}};
"""
        for name, port in zip(names, ports, strict=True)
    )
    used = " ".join(f"destination({name});" for name in names)
    return f"""@version: 3.38
options {{ threaded(yes); stats-freq(0); log-msg-size(65536); }};
source s_events {{
  wildcard-file(base-dir("{input_dir}") filename-pattern("*.ndjson") flags(no-parse) follow-freq(0.1)
                max-files(1) log-fetch-limit({BATCH_EVENTS}) log-iw-size({WINDOW}));
}};
parser p_json {{ json-parser(prefix(".json.")); }};
{destinations}log {{ source(s_events); parser(p_json); {used} flags(flow-control); }};
"""


def authlog_sinks(urls: Sequence[str]) -> str:
    """One elasticsearch sink per URL with only type, hosts and index: the defaults a user gets."""
    return "".join(
        f'[sinks.{name}]\ntype = "elasticsearch"\nhosts = ["{url}"]\nindex = "{INDEX}"\n'
        for name, url in zip(destination_names("es", len(urls)), urls, strict=True)
    )

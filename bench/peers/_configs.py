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
"""

from __future__ import annotations

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


def rsyslog_conf(work: Path, input_file: Path, port: int) -> str:
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
  action(type="omelasticsearch" server="127.0.0.1" serverport="{port}" searchIndex="{INDEX}" template="document"
         bulkmode="on" bulkid="document_id" dynbulkid="on" writeoperation="create"
         queue.type="LinkedList" queue.size="{WINDOW}" queue.workerThreads="{WORKERS}"
         queue.dequeueBatchSize="{BATCH_EVENTS}" action.resumeRetryCount="-1" errorFile="{work}/es-errors.log")
}}
"""


def syslog_ng_conf(input_dir: Path, port: int) -> str:
    body = '{\\"create\\":{\\"_index\\":\\"' + INDEX + '\\",\\"_id\\":\\"${.json.id}\\"}}\\n$(format-json --key .json.* --shift 6)'
    return f"""@version: 3.38
options {{ threaded(yes); stats-freq(0); log-msg-size(65536); }};
source s_events {{
  wildcard-file(base-dir("{input_dir}") filename-pattern("*.ndjson") flags(no-parse) follow-freq(0.1)
                max-files(1) log-fetch-limit({BATCH_EVENTS}) log-iw-size({WINDOW}));
}};
parser p_json {{ json-parser(prefix(".json.")); }};
destination d_bulk {{
  http(url("http://127.0.0.1:{port}/_bulk") method("POST") headers("Content-Type: application/x-ndjson")
       body("{body}") delimiter("\\n") body-suffix("\\n")
       batch-lines({BATCH_EVENTS}) batch-timeout({BATCH_WAIT_MS}) workers({WORKERS}) log-fifo-size({WINDOW}));
}};
log {{ source(s_events); parser(p_json); destination(d_bulk); flags(flow-control); }};
"""


def authlog_sinks(url: str) -> str:
    """One elasticsearch sink with only type, hosts and index: the defaults a user gets."""
    return f'[sinks.es]\ntype = "elasticsearch"\nhosts = ["{url}"]\nindex = "{INDEX}"\n'

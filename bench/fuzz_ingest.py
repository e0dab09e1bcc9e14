"""Coverage-guided fuzzing of the ingest path: body splitter, gzip, validator, archive line.

    python bench/fuzz_ingest.py --runs 1000000        # a fixed number of executions
    python bench/fuzz_ingest.py --seconds 30          # a bounded run (what CI does)
    python bench/fuzz_ingest.py --runs 200000 --keep fuzz-out   # keep the corpus and any crash files

One execution feeds one fuzzer-made input through what ``POST /v1/events`` does with a body:
the first byte picks the content type and encoding (or, now and then, takes a raw header value
from the input, decoded as aiohttp decodes headers), the rest is the body (gzipped by us half
of the time, so the fuzzer reaches the JSON paths behind gzip too, and fed raw the other half,
so it attacks the gunzip itself). Then every item goes through the validator; every accepted
event's archive line must decode back to the same event, and the event must pass every
destination's pure delivery path (map, encode, check, partition, key) without an exception.
Every refusal's message is encoded as the sidecar encodes its answers.

What counts as a crash: any exception other than ``BodyError`` (the body is refused with a
4xx) or ``ValidationError`` (one item is refused), a ``BodyError`` carrying a 5xx, a message
that cannot be sent as JSON, an accepted event whose archive line does not read back or that
an adapter's pure path raises on, or an item count past the cap. The fuzzer runs
in a child process (libFuzzer ends its process when it stops); this parent reads its figures
and prints one summary line: ``executions=N coverage=C features=F crashes=K``. The exit code
is 0 only when the run finished with no crash.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Why: small caps make the fuzzer reach the 413 paths (too many events, body too large,
# gzip bomb) with inputs of a few KiB instead of megabytes.
FUZZ_MAX_BODY_BYTES = 64 * 1024
FUZZ_MAX_EVENTS = 64
# Why: libFuzzer's default input cap (4 KiB) is too small for a gzip body of several members or
# a deep nest; 16 KiB reaches both and keeps an execution cheap (the body cap above still bites via gzip).
FUZZ_MAX_INPUT_BYTES = 16 * 1024
# Why: a fixed clock keeps the validator's "future time" check deterministic between runs.
FUZZ_NOW = 1_780_000_000.0

CONTENT_TYPES = ("application/json", "application/x-ndjson", None, "application/json; charset=utf-8", "text/plain")
ENCODINGS = (None, "gzip", "identity", "x-gzip", "br")

SEEDS = [
    b'{"type":"login.completed","userId":"u-1","ip":"203.0.113.7"}',
    b'[{"type":"login.completed"},{"type":"login.invalid_password","email":"a@example.com","reason":"x"}]',
    b'{"type":"login.completed","time":"0001-01-01T00:59:00+01:00"}\n{"type":"login.completed"}',
    b'{"type":"login.completed","details":' + b"[" * 2000 + b"]" * 2000 + b"}",
    b"[" * 5000 + b"]" * 5000,
    b'{"type":"login.completed","details":{"n":1e999999}}',
    b'{"type":"signup.completed","time":"9999-12-31T23:59:60-23:59","email":"x@y.z","ip":"::ffff:1.2.3.4"}',
    b'{"type":"login.completed","unknownField\\u0000":1}',
]


# Every destination, as pure code: nothing here connects (clients are built on the first send).
FUZZ_SINKS = {
    "es": {"type": "elasticsearch", "hosts": ["http://127.0.0.1:9"], "index": "authlog"},
    "es_pii": {"type": "elasticsearch", "hosts": ["http://127.0.0.1:9"], "index": "authlog",
               "pii": {"email": "hash", "ip": "mask", "hash_key": "fuzz-key"}},
    "s3": {"type": "s3", "bucket": "fuzz", "region": "us-east-1", "partition_by": ["tenant"]},
    "s3_ocsf": {"type": "s3", "bucket": "fuzz", "region": "us-east-1", "format": "ocsf", "service_name": "fuzz"},
    "datadog": {"type": "datadog", "api_key": "fuzz-key", "site": "datadoghq.com"},
    "gcl": {"type": "cloud_logging", "project": "fuzz-project", "endpoint": "http://127.0.0.1:9"},
}
_HEADER_FROM_INPUT = 0x40  # selector bit: take the Content-Type from the input's bytes instead


def _adapters(catalog):
    """Each destination's adapter, built from FUZZ_SINKS exactly as `authlog run` builds them."""
    from shippers.config import config_from_dict
    from shippers.pii import SinkPii
    from shippers.plugins import build_adapters

    config = config_from_dict({"buffer": {"path": "./unused"}, "sinks": FUZZ_SINKS}, environ={})
    adapters = build_adapters(config.sinks.values(), catalog, lambda: FUZZ_NOW, "fuzzstore01")
    return [(adapters[name], SinkPii(sink.common.pii)) for name, sink in config.sinks.items()]


def _setup_target():
    """Import the code under test with coverage instrumentation; return the one-input function."""
    import atheris
    import msgspec

    with atheris.instrument_imports():
        import adapters.cloud_logging  # imported here to be instrumented: the mappings are fuzzed too
        import adapters.datadog
        import adapters.elasticsearch
        import adapters.s3  # noqa: F401
        from shippers.catalog import builtin_catalog
        from shippers.errors import ValidationError
        from shippers.event import EventValidator, decode_event, encode_event
        from shippers.sidecar.body import BodyError, BodyLimits, split_body

    catalog = builtin_catalog()
    validator = EventValidator(catalog, clock=lambda: FUZZ_NOW)
    limits = BodyLimits(max_body_bytes=FUZZ_MAX_BODY_BYTES, max_events=FUZZ_MAX_EVENTS)
    sinks = _adapters(catalog)
    answer = msgspec.json.Encoder()

    def deliverable(event) -> None:
        """Every destination's pure path; a reason from check_item is a dead letter, not a crash."""
        for adapter, pii in sinks:
            shown = pii.transform(event) if pii.transform is not None else event
            item = adapter.encode_item(adapter.map(shown))
            adapter.check_item(shown, item, FUZZ_NOW)
            adapter.object_key(adapter.partition(shown), 1, 1)

    def one_input(data: bytes) -> None:
        if not data:
            return
        selector, body = data[0], data[1:]
        content_type = CONTENT_TYPES[selector % len(CONTENT_TYPES)]
        encoding = ENCODINGS[(selector // len(CONTENT_TYPES)) % len(ENCODINGS)]
        if selector & _HEADER_FROM_INPUT and b"\n" in body:
            raw_header, body = body.split(b"\n", 1)
            content_type = raw_header[:200].decode("utf-8", "surrogateescape")  # as aiohttp hands headers over
        if encoding in ("gzip", "x-gzip") and selector & 0x80:
            body = gzip.compress(body, compresslevel=1)
        try:
            items = split_body(body, content_type, encoding, limits)
        except BodyError as exc:
            if not 400 <= exc.status < 500:
                raise AssertionError(f"BodyError with status {exc.status}: {exc.message}") from None
            answer.encode({"error": exc.message})
            return
        if len(items) > FUZZ_MAX_EVENTS:
            raise AssertionError(f"{len(items)} items passed a cap of {FUZZ_MAX_EVENTS}")
        for item in items:
            try:
                event = validator.decode(item, FUZZ_NOW)
            except ValidationError as exc:
                answer.encode({"index": 0, "error": str(exc)})
                continue
            line = encode_event(event)
            if decode_event(line) != event:
                raise AssertionError("an accepted event's archive line does not read back as the same event")
            deliverable(event)

    return one_input


def _child(argv: list[str]) -> None:
    """Run libFuzzer in this process (it exits when done); argv are libFuzzer's flags and corpus dirs."""
    import atheris

    sys.path.insert(0, str(ROOT))
    one_input = _setup_target()
    atheris.Setup([sys.argv[0], *argv], one_input)
    atheris.Fuzz()


_DONE = re.compile(r"Done (\d+) runs")
_EXECUTED = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_STAT = re.compile(r"#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+)")
_CRASH = re.compile(r"(Uncaught Python exception|==\d+== ERROR|deadly signal|Test unit written to)")


def summarise(output: str) -> dict[str, int]:
    """executions, coverage, features and crashes read from libFuzzer's output."""
    stats = _STAT.findall(output)
    done = _DONE.findall(output)
    executed = _EXECUTED.findall(output)
    if executed:
        executions = int(executed[-1])
    else:
        executions = int(done[-1]) if done else (int(stats[-1][0]) if stats else 0)
    coverage, features = (int(stats[-1][1]), int(stats[-1][2])) if stats else (0, 0)
    crashes = len(re.findall(r"Test unit written to", output)) or (1 if _CRASH.search(output) else 0)
    return {"executions": executions, "coverage": coverage, "features": features, "crashes": crashes}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    bound = parser.add_mutually_exclusive_group(required=True)
    bound.add_argument("--runs", type=int, help="stop after this many executions")
    bound.add_argument("--seconds", type=int, help="stop after this many seconds")
    parser.add_argument("--keep", type=Path, help="a folder for the corpus and any crash files (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed (default 1, so runs repeat)")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        _child(args.child)
        return 0

    with tempfile.TemporaryDirectory(prefix="authlog-fuzz-") as scratch:
        out = args.keep or Path(scratch)
        corpus = out / "corpus"
        corpus.mkdir(parents=True, exist_ok=True)
        for index, seed in enumerate(SEEDS):
            for selector in (0, 1, 0x80 | 5):  # json, ndjson, gzipped json
                (corpus / f"seed-{index}-{selector}").write_bytes(bytes([selector]) + seed)
        bound_flag = f"-runs={args.runs}" if args.runs is not None else f"-max_total_time={args.seconds}"
        flags = [
            bound_flag, f"-seed={args.seed}", f"-max_len={FUZZ_MAX_INPUT_BYTES}",
            f"-artifact_prefix={out}{os.sep}", "-print_final_stats=1", str(corpus),
        ]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        child = subprocess.run(
            [sys.executable, __file__, "--runs", "0", "--child", *flags],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace",
        )
        figures = summarise(child.stdout)
        if child.returncode != 0 and figures["crashes"] == 0:
            figures["crashes"] = 1  # the child died some other way: a crash all the same
        if figures["crashes"]:
            print(child.stdout[-6000:], file=sys.stderr)
    print(" ".join(f"{key}={value}" for key, value in figures.items()))
    return 1 if figures["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())

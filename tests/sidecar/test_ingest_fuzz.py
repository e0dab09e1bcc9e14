"""Property test: no body and no content type sent to POST /v1/events makes the sidecar answer 5xx."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidecar_fakes import ServedApp

from shippers.event import WIRE_FIELDS

CONTENT_TYPES = st.one_of(
    st.sampled_from(["application/json", "application/x-ndjson", "text/plain", "", "application/json; charset=latin-1"]),
    st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40),
)
ENCODINGS = st.sampled_from([None, "gzip", "identity", "br", "GZIP"])
JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
# Near-valid events: real field names (and types) with arbitrary values, to reach deep into the validator.
EVENTS = st.dictionaries(
    st.sampled_from([*WIRE_FIELDS, "extra"]),
    st.one_of(JSONISH, st.sampled_from(["login.completed", "magic_link.failed", "expired", "2026-11-25T19:34:33Z"])),
    max_size=6,
).map(lambda event: {"type": "magic_link.failed", **event})
BODIES = st.one_of(
    st.lists(EVENTS, min_size=1, max_size=5).map(lambda events: json.dumps(events).encode()),
    st.lists(EVENTS, min_size=1, max_size=5).map(lambda events: "\n".join(map(json.dumps, events)).encode()),
    st.binary(max_size=2048),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.lists(JSONISH.map(json.dumps), max_size=8).map(lambda lines: "\n".join(lines).encode()),
)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES, encoding=ENCODINGS, compress=st.booleans())
def test_arbitrary_bodies_never_5xx(served: ServedApp, body: bytes, content_type: str, encoding: str | None, compress: bool) -> None:
    """Whatever the bytes, content type and encoding, the answer is a 2xx or 4xx with a JSON body."""
    _post_and_check(served, body, content_type, encoding, compress)


@FUZZ
@given(body=BODIES, content_type=CONTENT_TYPES, encoding=ENCODINGS, compress=st.booleans())
def test_arbitrary_bodies_never_5xx_with_the_real_shipper(
    served_real: ServedApp, body: bytes, content_type: str, encoding: str | None, compress: bool
) -> None:
    """The same holds with the real Shipper behind the app: its validator and store never turn input into a 5xx."""
    _post_and_check(served_real, body, content_type, encoding, compress)


def _post_and_check(served: ServedApp, body: bytes, content_type: str, encoding: str | None, compress: bool) -> None:
    payload = gzip.compress(body) if compress else body
    headers = {"Content-Type": content_type}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    status, _, raw = served.request("POST", "/v1/events", payload, headers)
    assert status < 500, raw
    assert isinstance(json.loads(raw), dict)

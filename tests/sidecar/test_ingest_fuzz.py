"""Property test: no body and no content type sent to POST /v1/events makes the sidecar answer 5xx."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidecar_fakes import ServedApp

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
BODIES = st.one_of(
    st.binary(max_size=2048),
    JSONISH.map(lambda v: json.dumps(v).encode()),
    st.lists(JSONISH.map(json.dumps), max_size=8).map(lambda lines: "\n".join(lines).encode()),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES, content_type=CONTENT_TYPES, encoding=ENCODINGS, compress=st.booleans())
def test_arbitrary_bodies_never_5xx(served: ServedApp, body: bytes, content_type: str, encoding: str | None, compress: bool) -> None:
    """Whatever the bytes, content type and encoding, the answer is a 2xx or 4xx with a JSON body."""
    payload = gzip.compress(body) if compress else body
    headers = {"Content-Type": content_type}
    if encoding is not None:
        headers["Content-Encoding"] = encoding
    status, _, raw = served.request("POST", "/v1/events", payload, headers)
    assert status < 500, raw
    assert isinstance(json.loads(raw), dict)

"""Query strings on every route: each parameter is checked (ASCII digits, ranges, known names) and a bad one is a 400 naming it."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sidecar_fakes import ServedApp

GET_ROUTES = ["/v1/dlq", "/v1/status", "/healthz", "/readyz", "/metrics", "/"]


@pytest.mark.parametrize("limit", ["²", "١٢", "１０", "+5", "-1", " 5", "5 ", "0x10", "1e2", "", "0", "1001", "9" * 40])
def test_dlq_limit_must_be_ascii_digits_in_range(served: ServedApp, limit: str) -> None:
    """limit= that is not 1..1000 in ASCII digits (superscripts, other scripts, signs, blanks, huge) is a 400 naming limit."""
    status, _, body = served.request("GET", f"/v1/dlq?limit={quote(limit)}")
    assert status == 400, body
    assert "limit" in json.loads(body)["error"]


def test_dlq_limit_in_range_is_accepted(served: ServedApp) -> None:
    """The edges 1 and 1000 are valid limits."""
    assert served.request("GET", "/v1/dlq?limit=1")[0] == 200
    assert served.request("GET", "/v1/dlq?limit=1000")[0] == 200


@pytest.mark.parametrize("path", GET_ROUTES)
def test_unknown_parameters_are_a_400_naming_them(served: ServedApp, path: str) -> None:
    """A parameter a route does not take (a typo such as limt=) is a 400 that names it, on every route."""
    status, _, body = served.request("GET", f"{path}?limt=5")
    assert status == 400
    assert "'limt'" in json.loads(body)["error"]


def test_a_repeated_parameter_is_a_400(served: ServedApp) -> None:
    """limit given twice is ambiguous: a 400 naming it rather than a silent pick."""
    status, _, body = served.request("GET", "/v1/dlq?limit=1&limit=2")
    assert status == 400 and "limit" in json.loads(body)["error"]


def test_an_empty_sink_is_a_400(served: ServedApp) -> None:
    """sink= with no value is a 400 naming sink (leave the parameter out for every sink)."""
    status, _, body = served.request("GET", "/v1/dlq?sink=")
    assert status == 400 and "sink" in json.loads(body)["error"]


def test_post_events_takes_no_parameters(served: ServedApp) -> None:
    """POST /v1/events with a query parameter is a 400 naming it, and nothing is committed."""
    status, _, body = served.request("POST", "/v1/events?dry_run=1", b'{"type": "login.completed"}', {"Content-Type": "application/json"})
    assert status == 400 and "'dry_run'" in json.loads(body)["error"]


# Arbitrary bytes, percent-encoded, plus raw printable ASCII (http.client refuses control characters in a URL).
QUERY_TEXT = st.one_of(
    st.binary(max_size=40).map(lambda raw: quote(raw, safe="")),
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, blacklist_characters="#"), max_size=40),
)
PAIRS = st.lists(
    st.tuples(st.one_of(st.sampled_from(["limit", "sink", "x"]), QUERY_TEXT), st.one_of(st.sampled_from(["1", "local", quote("²"), quote("٣"), ""]), QUERY_TEXT)),
    max_size=4,
).map(lambda pairs: "&".join(f"{k}={v}" for k, v in pairs))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(GET_ROUTES), query=st.one_of(PAIRS, QUERY_TEXT))
def test_arbitrary_query_strings_never_5xx(served: ServedApp, path: str, query: str) -> None:
    """Whatever the query string on whichever GET route, the answer is never a 5xx, and an error is JSON."""
    status, _, body = served.request("GET", f"{path}?{query}")
    assert status < 500, body
    if status >= 400:
        assert "error" in json.loads(body)

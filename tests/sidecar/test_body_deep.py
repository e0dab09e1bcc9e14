"""Bodies nested past what msgspec can decode: a deep element costs only itself, and the scanning splitter agrees with msgspec."""

from __future__ import annotations

import json
from typing import Any
from unittest import mock

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shippers.sidecar import body as body_module
from shippers.sidecar.body import BodyError, BodyLimits, scan_array, split_body, split_json

GOOD = b'{"type": "login.completed", "userId": "u-1"}'
# Why: past Python's recursion limit (1000), where msgspec raises RecursionError.
DEEP = 5000
DEEP_ARRAY = b"[" * DEEP + b"]" * DEEP
DEEP_OBJECT = b'{"a":' * DEEP + b"1" + b"}" * DEEP
LIMITS = BodyLimits(max_body_bytes=1024 * 1024, max_events=5)
_raw_list = msgspec.json.Decoder(list[msgspec.Raw])


def _error(raw: bytes, limits: BodyLimits = LIMITS) -> BodyError:
    with pytest.raises(BodyError) as caught:
        split_body(raw, "application/json", None, limits)
    return caught.value


@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT, b'{"type": "login.completed", "details": ' + DEEP_ARRAY + b"}"])
def test_a_deep_element_is_one_item_beside_its_neighbours(deep: bytes) -> None:
    """An array whose middle element is nested 5000 deep splits into its three elements, the deep one whole, instead of a 400."""
    body = b"[ " + GOOD + b" ,\n" + deep + b"\t, " + GOOD.replace(b"u-1", b"u-2") + b" ]"
    assert split_body(body, "application/json", None, LIMITS) == [GOOD, deep, GOOD.replace(b"u-1", b"u-2")]


def test_a_deep_array_or_object_alone_is_one_item() -> None:
    """A top-level array nested 5000 deep is one element (the inner array); a single deep object is one item, not a 400."""
    assert split_json(DEEP_ARRAY) == [DEEP_ARRAY[1:-1]]
    assert split_json(b"  " + DEEP_OBJECT + b"\n") == [DEEP_OBJECT]


def test_a_deep_body_with_more_elements_than_the_cap_is_413() -> None:
    """The scanning path stops at max_events + 1 elements with the usual 413 naming the limit."""
    body = b"[" + DEEP_ARRAY + b"," + b",".join([GOOD] * 10) + b"]"
    error = _error(body)
    assert error.status == 413 and "max_events_per_request is 5" in error.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b"[" + GOOD + b"," + b"[" * DEEP, "not closed"),
        (b"[" + DEEP_ARRAY + b"," + b'"unterminated', "not closed"),
        (b"[" + DEEP_ARRAY + b"] x", "after the array"),
        (b"[" + DEEP_ARRAY + b",]", "element 1 is missing"),
        (b"[" + DEEP_ARRAY + b",," + GOOD + b"]", "element 1 is missing"),
        (b"[" + DEEP_ARRAY + b", {bad json}]", "element 1"),
        (b"[" + DEEP_ARRAY + b", 1 2]", "element 1"),
        (b"[" + DEEP_ARRAY + b"]]" + b"]", "after the array"),
        (b"[" + b"[" * DEEP + b"}" * DEEP + b"]", "element 0"),
    ],
    ids=["unclosed", "unterminated string", "trailing text", "trailing comma", "two commas", "bad element",
         "two values in one element", "extra closing bracket", "mismatched brackets"],
)
def test_a_malformed_deep_array_is_400_saying_where(body: bytes, says: str) -> None:
    """A deep array that is not valid JSON around its elements is a 400 that says what is wrong and where."""
    error = _error(body)
    assert error.status == 400, error.message
    assert says in error.message and "not a valid JSON array" in error.message, error.message


# -- hypothesis: the scanning splitter agrees with msgspec on every array msgspec decodes -----------

_tricky_text = st.text(alphabet=st.sampled_from(list('"\\[]{},:/ \t\nab\u00e9\u2028\U0001f600\x00\x1f')), max_size=12)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text() | _tricky_text
_values = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text() | _tricky_text, inner, max_size=4),
    max_leaves=20,
)
_blanks = st.text(alphabet=" \t\r\n", max_size=3)


@st.composite
def _arrays(draw: st.DrawFn) -> bytes:
    """A JSON array of arbitrary values, with arbitrary JSON whitespace between tokens, escaped or raw non-ASCII."""
    values: list[Any] = draw(st.lists(_values, max_size=8))
    ascii_only = draw(st.booleans())

    def encode(value: Any) -> str:
        if isinstance(value, list):
            return "[" + ",".join(draw(_blanks) + encode(v) + draw(_blanks) for v in value) + "]"
        if isinstance(value, dict):
            pairs = (draw(_blanks) + json.dumps(k, ensure_ascii=ascii_only) + draw(_blanks) + ":" + draw(_blanks) + encode(v)
                     + draw(_blanks) for k, v in value.items())
            return "{" + ",".join(pairs) + "}"
        return json.dumps(value, ensure_ascii=ascii_only)

    text = draw(_blanks) + "[" + ",".join(draw(_blanks) + encode(v) + draw(_blanks) for v in values) + draw(_blanks) + "]"
    return (text + draw(_blanks)).encode("utf-8", "surrogatepass")


@settings(max_examples=500, deadline=None)
@given(body=_arrays())
def test_the_scanning_splitter_agrees_with_msgspec(body: bytes) -> None:
    """On any array msgspec decodes as list[Raw] (strings with escaped quotes, backslashes, brackets), the scan yields the same elements."""
    try:
        expected = [bytes(raw) for raw in _raw_list.decode(body)]
    except msgspec.DecodeError:  # e.g. a lone surrogate hypothesis drew: not an array msgspec can decode
        return
    assert scan_array(body) == expected
    with mock.patch.object(body_module, "_skip_value", lambda *_: None):  # every element through the byte scanner
        assert scan_array(body) == expected


@settings(max_examples=200, deadline=None)
@given(body=_arrays(), cut=st.integers(min_value=1))
def test_the_scanning_splitter_never_accepts_a_truncated_array(body: bytes, cut: int) -> None:
    """Any proper prefix of a valid array is a 400 (or, if still valid, split like msgspec), never an exception of another kind."""
    prefix = body[: len(body) - 1 - cut % len(body)]
    try:
        expected: list[bytes] | None = [bytes(raw) for raw in _raw_list.decode(prefix)]
    except msgspec.DecodeError:
        expected = None
    for skip in (body_module._skip_value, lambda *_: None):  # msgspec's skip, then the byte scanner alone
        with mock.patch.object(body_module, "_skip_value", skip):
            if expected is not None:
                assert scan_array(prefix) == expected
            else:
                with pytest.raises(BodyError) as caught:
                    scan_array(prefix)
                assert caught.value.status == 400


def test_a_deep_element_dense_with_brackets_is_refused_after_a_bounded_scan() -> None:
    """A deep element holding millions of tiny brackets is a 400 after MAX_DEEP_SCAN_STEPS steps, not seconds of scanning."""
    body = b"[" + GOOD + b", [" + b"{}," * 1_000_000 + DEEP_ARRAY + b"]]"
    error = _error(body, BodyLimits(max_body_bytes=8 * 1024 * 1024, max_events=5))
    assert error.status == 400 and "element 1 is nested too deeply" in error.message


def test_a_comma_dense_array_with_a_deep_element_is_scanned_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """On the careful path for comma-dense arrays, a deep element also falls back to the scan instead of a 400."""
    monkeypatch.setattr(body_module, "DIRECT_DECODE_MAX_COMMAS", 0)
    assert split_json(b"[" + GOOD + b"," + DEEP_ARRAY + b"]", max_events=5) == [GOOD, DEEP_ARRAY]


@pytest.mark.parametrize(
    "element",
    [b'{"userId": "\\ud800"}', b'{"userId": "\xff\xfe"}', b'{"a": 1e999999999999999999999}'],
    ids=["lone-surrogate", "invalid-utf8-in-a-string", "huge-exponent"],
)
def test_an_element_msgspec_cannot_read_is_an_item_and_keeps_its_neighbours(element: bytes) -> None:
    """In a well-formed array, an element msgspec cannot read for its text alone is handed over alone (as an NDJSON line is)."""
    assert split_json(b"[" + GOOD + b", " + element + b", " + GOOD + b"]") == [GOOD, element, GOOD]


def test_an_unbalanced_quote_is_a_400_never_a_merged_item() -> None:
    """An element with a stray quote would make the scan swallow its neighbours into one item: the whole body is a 400 instead."""
    body = b'[{"userId":"u0"}, {"userId":u1"}, {"userId":"u2"}, {"userId:"u3"}, {"userId":"u4"}]'
    error = _error(body)
    assert error.status == 400 and "not a valid JSON array" in error.message

"""Hive-style partitions and object keys: UTC hour, percent-encoded tenant, fixed-width seqs."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import quote, unquote

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from s3_testkit import FIXED, full_event, make_adapter, minimal_event

from adapters.s3 import keys
from adapters.s3.config import MAX_KEY_BYTES
from shippers.event import format_time


def test_partition_is_the_utc_hour_of_the_event_time() -> None:
    """An event at 01:30+02:00 belongs to the previous UTC day's hour 23."""
    event = full_event("login.completed", time="2026-11-25T01:30:00+02:00")
    assert make_adapter().partition(event) == "dt=2026-11-24/hour=23"


@settings(max_examples=200, deadline=None)
@given(moment=st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_the_partition_read_off_a_stored_time_is_its_utc_hour(moment: datetime) -> None:
    """For any time as the validator stores it (ms or us), the partition read off the text is the datetime's UTC date and hour."""
    event = msgspec.structs.replace(full_event("login.completed"), time=format_time(moment))
    expected = f"dt={moment.year:04d}-{moment.month:02d}-{moment.day:02d}/hour={moment.hour:02d}"
    assert make_adapter().partition(event) == expected


def test_a_time_not_in_the_stored_form_is_still_read_as_a_datetime() -> None:
    """A record with an offset time (a foreign writer, an old release) falls back to the datetime: its UTC hour, not its text."""
    event = msgspec.structs.replace(full_event("login.completed"), time="2026-11-25T01:30:00+02:00")
    assert make_adapter().partition(event) == "dt=2026-11-24/hour=23"


def test_tenant_partition_only_when_asked() -> None:
    """partition_by = ["tenant"] adds tenant=<id>; an event without tenant goes to _none."""
    adapter = make_adapter(partition_by=["tenant"])
    assert adapter.partition(full_event("login.completed")) == "dt=2026-11-25/hour=19/tenant=t-42"
    assert adapter.partition(minimal_event("login.completed")) == "dt=2026-11-25/hour=19/tenant=_none"
    assert make_adapter().partition(full_event("login.completed")) == "dt=2026-11-25/hour=19"


@pytest.mark.parametrize(
    ("tenant", "value"),
    [("acme:eu/1", "acme%3Aeu%2F1"), ("a b", "a%20b"), ("Zoë", "Zo%C3%AB"), ("_none", "%5Fnone"), ("t.1_x-2~", "t.1_x-2%7E")],
)
def test_tenant_values_are_percent_encoded(tenant: str, value: str) -> None:
    """No '/', ':' or space survives in a partition value, and a tenant named _none stays apart."""
    assert keys.tenant_value(tenant) == value


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=40))
def test_any_tenant_gives_one_safe_path_segment(tenant: str) -> None:
    """Whatever the tenant id, its value is one short segment without ':'; a short one decodes back to the id."""
    value = keys.tenant_value(tenant)
    assert "/" not in value and ":" not in value and " " not in value and value != keys.NO_TENANT
    assert len(value.encode()) <= keys.MAX_TENANT_VALUE_BYTES
    if len(quote(tenant, safe="").replace("~", "%7E")) <= keys.MAX_TENANT_VALUE_BYTES:  # "~" is encoded too
        assert unquote(value) == tenant


@pytest.mark.parametrize(
    "tenant", ["a" * 900, "é" * 160, "租户" * 60, "a b/c" * 100, "é" * 1024], ids=["ascii-900", "e-acute-160", "cjk-120", "slashes-500", "e-acute-1024"]
)
def test_no_tenant_id_the_validator_accepts_makes_a_key_too_long(tenant: str) -> None:
    """A tenantId of up to 1 KiB of any characters gets a key under S3's 1024 bytes, so it is never dead-lettered for it."""
    from shippers.catalog import builtin_catalog
    from shippers.event import EventValidator

    event = EventValidator(builtin_catalog()).decode(f'{{"type":"login.completed","tenantId":"{tenant}"}}'.encode())
    adapter = make_adapter(prefix="authlog", partition_by=["tenant"])
    assert keys.key_bytes("authlog/", adapter.partition(event), "archive", "0123456789abcdef") <= MAX_KEY_BYTES
    assert adapter.check_item(event, adapter.encode_item(adapter.map(event)), FIXED) is None


def test_a_shortened_tenant_value_is_stable_and_tells_long_tenants_apart() -> None:
    """The shortened form is a pure function of the id: the same id, the same value; ids sharing a long start differ."""
    first, second = "é" * 200 + "x", "é" * 200 + "y"
    assert keys.tenant_value(first) == keys.tenant_value(first) == keys.shortened_tenant_value(first)
    assert keys.tenant_value(first) != keys.tenant_value(second)
    head, _, digest = keys.tenant_value(first).rpartition("~")
    assert unquote(head) == "é" * (keys.TENANT_HEAD_BYTES // 6) and len(digest) == keys.TENANT_HASH_CHARS
    assert keys.tenant_value("t-42") == "t-42"  # short ids are unchanged


def test_object_key_shape() -> None:
    """<prefix>dt=.../hour=../[tenant=../]<first 20 digits>-<last 20 digits>-<sink>.ndjson.gz"""
    adapter = make_adapter(prefix="authlog", partition_by=["tenant"])
    key = adapter.object_key("dt=2026-11-25/hour=19/tenant=t-42", 7, 1234)
    assert key == "authlog/dt=2026-11-25/hour=19/tenant=t-42/00000000000000000007-00000000000000001234-archive.ndjson.gz"
    assert make_adapter().object_key("dt=2026-11-25/hour=19", 1, 1).startswith("dt=2026-11-25/hour=19/")


def test_keys_sort_in_sequence_order() -> None:
    """Zero padding makes lexical order the delivery order, even across digit counts."""
    adapter = make_adapter()
    ranges = [(1, 9), (10, 99), (100, 10**12), (10**12 + 1, 2**64 - 1)]
    made = [adapter.object_key("dt=2026-11-25/hour=19", a, b) for a, b in ranges]
    assert made == sorted(made)


def test_partition_and_key_are_deterministic() -> None:
    """Calling them again (as the core does after a crash) gives the same key."""
    adapter = make_adapter(partition_by=["tenant"])
    event = full_event("user.locked", "locked")
    first = adapter.object_key(adapter.partition(event), 5, 9)
    again = make_adapter(partition_by=["tenant"]).object_key(adapter.partition(full_event("user.locked", "locked")), 5, 9)
    assert first == again


def test_a_prefix_that_makes_the_key_too_long_is_dead_lettered() -> None:
    """check_item refuses an event whose key would still pass S3's 1024-byte limit (a huge prefix), and passes a normal one."""
    adapter = make_adapter(prefix="p" * 1000, partition_by=["tenant"])
    event = full_event("login.completed", tenantId="é" * 400)
    item = adapter.encode_item(adapter.map(event))
    reason = adapter.check_item(event, item, FIXED)
    assert reason is not None and str(MAX_KEY_BYTES) in reason and "prefix" in reason
    normal = make_adapter(partition_by=["tenant"])
    assert normal.check_item(event, normal.encode_item(normal.map(event)), FIXED) is None


def test_early_years_keep_four_digits() -> None:
    """A key's date is always YYYY-MM-DD, whatever the platform's strftime does with year 5."""
    event = full_event("login.completed", time="0005-03-04T05:06:07Z")
    assert make_adapter().partition(event) == "dt=0005-03-04/hour=05"


def test_no_short_tenant_id_can_take_a_shortened_tenants_partition() -> None:
    """A tenant id spelling out another tenant's shortened value gets its own partition: a literal '~' is encoded, so only shortening writes one."""
    from adapters.s3.keys import tenant_value

    victim = "a" * 64 + "€" * 30  # long enough once encoded to be shortened
    impostor = tenant_value(victim)  # a short, valid tenant id equal to the victim's partition value
    assert "~" in impostor and tenant_value(impostor) != impostor
    assert tenant_value("a~b") == "a%7Eb"

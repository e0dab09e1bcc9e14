"""The README's "In your app" section tells the truth about the integration: every key with its default, every drop reason."""

from __future__ import annotations

import re
from pathlib import Path

from shippers.contrib import settings as integration_settings
from shippers.contrib.drops import DROP_REASONS
from shippers.contrib.moments import MOMENTS

README = (Path(__file__).parents[2] / "README.md").read_text("utf-8")


def _rows() -> dict[str, str]:
    return {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| ([^|]+) \|", README, flags=re.MULTILINE)}


def test_every_integration_key_has_a_row_with_its_default() -> None:
    """Each AUTHLOG_INTEGRATION key has a README row, and the numbers shown are the code's defaults."""
    rows = _rows()
    assert [k for k in integration_settings._KEYS if k not in rows] == []
    assert f'"{integration_settings.DEFAULT_BUDGET_SECONDS * 1000:g}ms"' in rows["budget"]
    assert f'"{integration_settings.DEFAULT_SPOOL_MAX_BYTES // 2**20}MiB"' in rows["spool_max_bytes"]
    assert f'"{integration_settings.DEFAULT_SIDECAR_URL}"' in rows["sidecar_url"]
    assert f'"{integration_settings.DEFAULT_SPOOL_FILE.as_posix()}"' in rows["spool_path"]


def test_every_drop_reason_is_listed() -> None:
    """The README names exactly the reasons authlog_app_dropped_total{reason} can carry."""
    section = README.split("**Drops are counted**", 1)[1].split("- **After the fork.**", 1)[0]
    assert re.findall(r"`([a-z_]+)`", section.split("by reason:", 1)[1]) == list(DROP_REASONS)


def test_every_helper_moment_has_a_helper() -> None:
    """Each moment of the event map has a helper the README names (login_completed for login, signup_completed...)."""
    from shippers.contrib.helpers import Helpers

    names = {"login": "login_completed", "login_failed": "login_failed", "signup": "signup_completed"}
    for moment in MOMENTS:
        assert hasattr(Helpers, names.get(moment, moment)), moment

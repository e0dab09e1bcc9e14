"""Django for real: the test project's settings, django.setup() once, and its database migrated once per session."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djproject.settings")

import django

django.setup()


@pytest.fixture(scope="session", autouse=True)
def _database() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)



@pytest.fixture
def django_queries() -> Any:
    """The SQL Django runs during the test, as it runs (``.captured_queries``)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        yield captured

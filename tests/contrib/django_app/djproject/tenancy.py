"""The project's tenant callable (AUTHLOG_INTEGRATION["tenant"])."""

from typing import Any


def tenant_of(request: Any) -> str:
    return "acme"

"""The OCSF mapping: one canonical event -> one OCSF 1.x line (S3 ``format = "ocsf"``).

The default S3 line is the archive line (``shippers.event.encode_event``), not built here.
With ``format = "ocsf"`` each event becomes an OCSF event of class 3002 Authentication or
3001 Account Change, as the catalog says (DESIGN.md's mapping table)::

    catalog type ─> class_uid, activity_id ─> type_uid = class_uid * 100 + activity_id
    catalog outcome ─> status_id (1 Success, 2 Failure)    catalog severity ─> severity_id
    userId/email ─> user (always present: by id, else by email, else "unknown")
    ip ─> src_endpoint.ip    userAgent ─> http_request.user_agent    time ─> epoch ms
    id ─> metadata.uid    tenantId ─> metadata.tenant_uid    traceId ─> metadata.correlation_uid

The captions and enums below are facts of OCSF ``ocsf/ocsf-schema@a5cfc68e`` (1.9.0-dev);
``tests/adapters/s3/test_s3_ocsf.py`` checks every line against those facts.
"""

from __future__ import annotations

import functools
from importlib import metadata
from typing import Any

from shippers.catalog import EventType
from shippers.event import Event

# Why: the schema version our lines were validated against (tests/data/s3/ocsf_*.json `_source`).
OCSF_VERSION = "1.9.0-dev"
PRODUCT_NAME = "authlog-shipper"
VENDOR_NAME = "authlog-shipper project"
# Why: the line says which shipper release wrote it; read once, so map() stays deterministic.
try:
    PRODUCT_VERSION: str | None = metadata.version(PRODUCT_NAME)
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    PRODUCT_VERSION = None

# Why: OCSF category 3 "Identity & Access Management" holds both classes we emit.
CATEGORY_UID = 3
CATEGORY_NAME = "Identity & Access Management"
CLASS_NAMES = {3002: "Authentication", 3001: "Account Change"}
# activity_id captions per class (OCSF enums); ids outside them keep their number but no name.
ACTIVITY_NAMES: dict[int, dict[int, str]] = {
    3002: {
        0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request",
        5: "Service Ticket Renew", 6: "Preauth", 7: "Account Switch", 99: "Other",
    },
    3001: {
        0: "Unknown", 1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable",
        6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable",
        11: "MFA Factor Disable", 12: "Unlock", 99: "Other",
    },
}
# Why: status_id comes from the catalog outcome, never from text (DESIGN.md).
STATUS = {"success": (1, "Success"), "failure": (2, "Failure")}
# Catalog severity -> OCSF severity_id: Informational 1, Low 2, Medium 3, High 4, Critical 5.
SEVERITY = {
    "info": (1, "Informational"),
    "notice": (2, "Low"),
    "warning": (3, "Medium"),
    "error": (4, "High"),
    "critical": (5, "Critical"),
}
# Why: DESIGN.md names a user without id or email "unknown" so the required object is present.
UNKNOWN = "unknown"


def _user(event: Event) -> dict[str, Any]:
    """The required OCSF ``user``: by id, else named by email, else "unknown" (DESIGN.md)."""
    user: dict[str, Any] = {}
    if event.userId is not None:
        user["uid"] = event.userId
    else:
        user["name"] = event.email if event.email is not None else UNKNOWN
    if event.email is not None:
        user["email_addr"] = event.email
    return user


@functools.cache
def _head(class_uid: int, activity_id: int, outcome: str, severity: str) -> dict[str, Any]:
    """The fields every line of one catalog type shares, in line order (a few dozen types: cached for good)."""
    status_id, status = STATUS[outcome]
    severity_id, severity_name = SEVERITY[severity]
    head: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": CLASS_NAMES[class_uid],
        "category_uid": CATEGORY_UID,
        "category_name": CATEGORY_NAME,
        "activity_id": activity_id,
    }
    activity_name = ACTIVITY_NAMES[class_uid].get(activity_id)
    if activity_name is not None:
        head["activity_name"] = activity_name
    head["type_uid"] = class_uid * 100 + activity_id
    if activity_name is not None:
        head["type_name"] = f"{CLASS_NAMES[class_uid]}: {activity_name}"
    head.update(severity_id=severity_id, severity=severity_name, status_id=status_id, status=status)
    return head


def to_ocsf(event: Event, kind: EventType, service_name: str | None = None) -> dict[str, Any]:
    """The OCSF line of ``event`` (of catalog type ``kind``); pure and deterministic."""
    class_uid = kind.ocsf_class_uid
    line = dict(_head(class_uid, kind.ocsf_activity_id, kind.outcome, kind.severity))
    if event.reason is not None:
        line["status_code"] = event.reason
    line["status_detail"] = event.description
    line["message"] = event.description
    line["time"] = event.epoch_ms
    line["user"] = _user(event)
    if event.ip is not None:
        line["src_endpoint"] = {"ip": event.ip}
    if event.userAgent is not None:
        line["http_request"] = {"user_agent": event.userAgent}
    if class_uid == 3002:
        # Authentication wants at least one of service / dst_endpoint: the app signed in to.
        line["service"] = {"name": service_name if service_name is not None else UNKNOWN}
    product: dict[str, Any] = {"name": PRODUCT_NAME, "vendor_name": VENDOR_NAME}
    if PRODUCT_VERSION is not None:
        product["version"] = PRODUCT_VERSION
    meta: dict[str, Any] = {"uid": event.id, "version": OCSF_VERSION, "product": product, "event_code": event.type}
    if event.tenantId is not None:
        meta["tenant_uid"] = event.tenantId
    if event.traceId is not None:
        meta["correlation_uid"] = event.traceId
    line["metadata"] = meta
    unmapped: dict[str, Any] = {"action": event.action}
    if event.details is not None:
        unmapped["details"] = event.details
    line["unmapped"] = unmapped
    return line

"""The OCSF mapping: one canonical event -> one OCSF 1.1.0 event (S3 ``format = "ocsf"`` / ``"ocsf-parquet"``).

The default S3 line is the archive line (``shippers.event.encode_event``), not built here.
With an OCSF format each event becomes an OCSF event of class 3002 Authentication or
3001 Account Change, as the catalog says (DESIGN.md's mapping table)::

    catalog type ─> class_uid, activity_id ─> type_uid = class_uid * 100 + activity_id
                    (an activity of a later OCSF release: 99 Other, its caption as activity_name)
    catalog outcome ─> status_id (1 Success, 2 Failure)    catalog severity ─> severity_id
    reason ─> status_code, its description ─> status_detail (a refused login says why: locked, expired...)
    userId/email ─> user {uid, name, email_addr}: name = the email, else the id, else "unknown", so a
                    failure that carries only an email still counts as a distinct user
    user ─> actor.user (the user acted: a sign-in, a self-service change)
    ip ─> src_endpoint.ip (a hashed address is not an ip_t: src_endpoint.uid)
    enrichment ─> src_endpoint.location, device + os, enrichments[] (see .ocsf_enrichment)
    ip, email, userId ─> observables[]
    userAgent ─> http_request.user_agent    time ─> epoch ms    service_name ─> service.name
    id ─> metadata.uid    tenantId ─> metadata.tenant_uid    traceId ─> metadata.correlation_uid

Facts: :mod:`.ocsf_schema` (OCSF 1.1.0, the release Amazon Security Lake documents for custom
sources); ``tests/adapters/s3/test_s3_ocsf.py`` checks every line against those facts.
"""

from __future__ import annotations

import functools
import ipaddress
from importlib import metadata
from typing import Any

from adapters.identity import user_name
from adapters.s3 import ocsf_enrichment
from adapters.s3 import ocsf_schema as schema
from shippers.catalog import EventType
from shippers.event import Event
from shippers.pii import WITHHELD

OCSF_VERSION = schema.OCSF_VERSION
PRODUCT_NAME = "authlog-shipper"
VENDOR_NAME = "authlog-shipper project"
# Why: the line says which shipper release wrote it; read once, so map() stays deterministic.
try:
    PRODUCT_VERSION: str | None = metadata.version(PRODUCT_NAME)
except metadata.PackageNotFoundError:  # a source checkout that was never installed
    PRODUCT_VERSION = None

# Why: DESIGN.md names a user without id or email "unknown" so the required object is present.
UNKNOWN = "unknown"


@functools.lru_cache(maxsize=4096)  # Why: a few thousand distinct addresses cover a busy minute; parsing is ~2 µs
def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _user(event: Event) -> dict[str, Any]:
    """The required OCSF ``user``: id, email, and a name that is always there (the email, else the id, else "unknown")."""
    user: dict[str, Any] = {}
    if event.userId is not None:
        user["uid"] = event.userId
    # The email, else the id: the identity every destination's user name carries (adapters.identity).
    user["name"] = user_name(event) or UNKNOWN
    if event.email is not None:
        user["email_addr"] = event.email
    return user


def _observables(event: Event, ip_is_address: bool) -> list[dict[str, Any]]:
    """The pivots an analyst searches by: the source address, the email, the user id."""
    out: list[dict[str, Any]] = []
    if event.ip is not None and ip_is_address:
        out.append({"name": "src_endpoint.ip", "type_id": schema.OBSERVABLE_IP[0], "type": schema.OBSERVABLE_IP[1],
                    "value": event.ip})
    if event.email is not None:
        out.append({"name": "user.email_addr", "type_id": schema.OBSERVABLE_EMAIL[0], "type": schema.OBSERVABLE_EMAIL[1],
                    "value": event.email})
    name = user_name(event)
    if name is not None:
        out.append({"name": "user.name", "type_id": schema.OBSERVABLE_USER_NAME[0],
                    "type": schema.OBSERVABLE_USER_NAME[1], "value": name})
    if event.userId is not None:
        out.append({"name": "user.uid", "type_id": schema.OBSERVABLE_OTHER[0], "type": schema.USER_ID_TYPE,
                    "value": event.userId})
    return out


@functools.cache
def _head(class_uid: int, activity_id: int, outcome: str, severity: str) -> dict[str, Any]:
    """The fields every line of one catalog type shares, in line order (a few dozen types: cached for good)."""
    status_id, status = schema.STATUS[outcome]
    severity_id, severity_name = schema.SEVERITY[severity]
    class_name = schema.CLASS_NAMES[class_uid]
    later = schema.LATER_ACTIVITY_NAMES.get((class_uid, activity_id))
    if later is not None:
        activity_id, activity_name = schema.OTHER, later
    else:
        activity_name = schema.ACTIVITY_NAMES[class_uid].get(activity_id)
    head: dict[str, Any] = {
        "class_uid": class_uid,
        "class_name": class_name,
        "category_uid": schema.CATEGORY_UID,
        "category_name": schema.CATEGORY_NAME,
        "activity_id": activity_id,
    }
    if activity_name is not None:
        head["activity_name"] = activity_name
    head["type_uid"] = class_uid * 100 + activity_id
    type_caption = schema.ACTIVITY_NAMES[class_uid].get(activity_id)
    if type_caption is not None:
        head["type_name"] = f"{class_name}: {type_caption}"
    head.update(severity_id=severity_id, severity=severity_name, status_id=status_id, status=status)
    return head


def _src_endpoint(event: Event, ip_is_address: bool, enrichment: dict[str, Any] | None) -> dict[str, Any] | None:
    endpoint: dict[str, Any] = {}
    if event.ip is not None:
        endpoint["ip" if ip_is_address else "uid"] = event.ip
    if enrichment:
        place = ocsf_enrichment.location(enrichment.get("geo"), enrichment.get("as"))
        if place is not None:
            endpoint["location"] = place
    if not endpoint:
        return None
    if "ip" not in endpoint and "uid" not in endpoint:
        # Why: network_endpoint needs one of ip/uid/name...; the sink's policy dropped the address, kept the place.
        endpoint["name"] = WITHHELD
    return endpoint


def to_ocsf(event: Event, kind: EventType, service_name: str | None = None) -> dict[str, Any]:
    """The OCSF line of ``event`` (of catalog type ``kind``); pure and deterministic."""
    class_uid = kind.ocsf_class_uid
    line = dict(_head(class_uid, kind.ocsf_activity_id, kind.outcome, kind.severity))
    if event.reason is not None:
        line["status_code"] = event.reason
    line["status_detail"] = event.description
    line["message"] = event.description
    line["time"] = event.epoch_ms
    user = _user(event)
    line["user"] = user
    line["actor"] = {"user": user}
    enrichment = ocsf_enrichment.enrichment_of(event)
    ip_is_address = event.ip is not None and _is_ip(event.ip)
    endpoint = _src_endpoint(event, ip_is_address, enrichment)
    if endpoint is not None:
        line["src_endpoint"] = endpoint
    if event.userAgent is not None:
        line["http_request"] = {"user_agent": event.userAgent}
    host = ocsf_enrichment.device(enrichment.get("userAgent")) if enrichment else None
    if host is not None:
        line["device"] = host
    if class_uid == schema.AUTHENTICATION:
        # Authentication wants at least one of service / dst_endpoint: the app signed in to.
        line["service"] = {"name": service_name if service_name is not None else UNKNOWN}
    observables = _observables(event, ip_is_address)
    if observables:
        line["observables"] = observables
    if enrichment:
        added = ocsf_enrichment.enrichments(enrichment, event.ip or WITHHELD, event.userAgent or WITHHELD)
        if added:
            line["enrichments"] = added
    product: dict[str, Any] = {"name": PRODUCT_NAME, "vendor_name": VENDOR_NAME}
    if PRODUCT_VERSION is not None:
        product["version"] = PRODUCT_VERSION
    meta: dict[str, Any] = {"uid": event.id, "version": OCSF_VERSION, "product": product, "event_code": event.type}
    if host is not None:
        meta["profiles"] = [schema.HOST_PROFILE]
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

"""Facts of the one OCSF release our lines declare (``metadata.version``): captions and enum ids.

Why 1.1.0: Amazon Security Lake's custom-source requirements ask for data "compatible with OCSF
Schema 1.1" and AWS's own validator (aws-samples/amazon-security-lake-ocsf-validation) checks
against 1.0.0-rc.2 or 1.1.0; newer releases are not documented as accepted. Every id and caption
below is OCSF ``ocsf/ocsf-schema`` tag v1.1.0 (commit 8ea34523); ``tests/data/s3/ocsf_*.json``
hold the resolved facts and ``tests/adapters/s3/test_s3_ocsf.py`` checks these tables against them.

What 1.1.0 lacks, and where we put it instead (the same lines stay valid for 1.1.0 readers):

- Authentication ``Preauth`` (activity 6) and Account Change ``Unlock`` (12) arrived in 1.2.0:
  such events are activity 99 ``Other`` with the newer caption as ``activity_name`` (OCSF's rule
  for ``Other``: the sibling caption carries the source's own value).
- ``network_endpoint.autonomous_system`` arrived in 1.2.0: the AS organisation goes to
  ``src_endpoint.location.isp`` and the whole AS (number and organisation) to an ``enrichments``
  entry on ``src_endpoint.ip``.
"""

from __future__ import annotations

OCSF_VERSION = "1.1.0"

# Why: OCSF category 3 "Identity & Access Management" holds both classes we emit.
CATEGORY_UID = 3
CATEGORY_NAME = "Identity & Access Management"
AUTHENTICATION = 3002
ACCOUNT_CHANGE = 3001
CLASS_NAMES = {AUTHENTICATION: "Authentication", ACCOUNT_CHANGE: "Account Change"}
OTHER = 99
# activity_id captions per class in 1.1.0 (the class's own enum plus base_event's 0 and 99).
ACTIVITY_NAMES: dict[int, dict[int, str]] = {
    AUTHENTICATION: {
        0: "Unknown", 1: "Logon", 2: "Logoff", 3: "Authentication Ticket", 4: "Service Ticket Request",
        5: "Service Ticket Renew", 99: "Other",
    },
    ACCOUNT_CHANGE: {
        0: "Unknown", 1: "Create", 2: "Enable", 3: "Password Change", 4: "Password Reset", 5: "Disable",
        6: "Delete", 7: "Attach Policy", 8: "Detach Policy", 9: "Lock", 10: "MFA Factor Enable",
        11: "MFA Factor Disable", 99: "Other",
    },
}
# Activities of later OCSF releases a catalog may name: written as 99 Other with this caption.
LATER_ACTIVITY_NAMES: dict[tuple[int, int], str] = {
    (AUTHENTICATION, 6): "Preauth",  # OCSF 1.2.0
    (AUTHENTICATION, 7): "Account Switch",  # OCSF 1.3.0
    (ACCOUNT_CHANGE, 12): "Unlock",  # OCSF 1.2.0
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

# observable.type_id (1.1.0 builds it from the dictionary types' `observable` ids).
OBSERVABLE_IP = (2, "IP Address")
OBSERVABLE_USER_NAME = (4, "User Name")
OBSERVABLE_EMAIL = (5, "Email Address")
# Why: 1.1.0 has no observable type for a user id string (21 "User" points at the user object,
# whose value is not populated): Other, with the source's name for it.
OBSERVABLE_OTHER = (99, "Other")
USER_ID_TYPE = "User ID"

# os.type_id by the OS family a user-agent parser names (ua-parser's names and their aliases).
OS_TYPES: dict[str, tuple[int, str]] = {
    "windows": (100, "Windows"),
    "windows phone": (101, "Windows Mobile"),
    "windows mobile": (101, "Windows Mobile"),
    "linux": (200, "Linux"),
    "ubuntu": (200, "Linux"),
    "debian": (200, "Linux"),
    "fedora": (200, "Linux"),
    "chrome os": (200, "Linux"),
    "android": (201, "Android"),
    "mac os x": (300, "macOS"),
    "macos": (300, "macOS"),
    "ios": (301, "iOS"),
    "ipados": (302, "iPadOS"),
}
OS_OTHER = (99, "Other")
# device.type_id (1.1.0): by OS family; a browser's device is otherwise Unknown.
DEVICE_UNKNOWN = (0, "Unknown")
DEVICE_DESKTOP = (2, "Desktop")
DEVICE_TABLET = (4, "Tablet")
DEVICE_MOBILE = (5, "Mobile")
DEVICE_TYPES_BY_OS = {
    100: DEVICE_DESKTOP, 101: DEVICE_MOBILE, 200: DEVICE_DESKTOP, 201: DEVICE_MOBILE, 300: DEVICE_DESKTOP,
    301: DEVICE_MOBILE, 302: DEVICE_TABLET,
}
# The profile that adds `device` to IAM classes; a line using it lists it in metadata.profiles.
HOST_PROFILE = "host"
# Continent codes (MaxMind / GeoNames) -> location.continent, which OCSF wants as a name.
CONTINENTS = {
    "AF": "Africa", "AN": "Antarctica", "AS": "Asia", "EU": "Europe", "NA": "North America",
    "OC": "Oceania", "SA": "South America",
}

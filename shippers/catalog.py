"""The event catalog: which authentication event types exist and what each one means.

The built-in catalog ships as data (``shippers/data/catalog.toml``); a user may add
types of their own with an extension file (``[catalog] extra = "my-events.toml"``)
written in the same shape, validated by the same rules. An extension type must not
reuse a built-in name.

Everything a destination mapping needs to know about a type lives here, once:
its action text, outcome, description, reasons, ECS category/type pair, OCSF
class/activity and severity. Mappings never guess these from words.
"""

from __future__ import annotations

import difflib
import re
import threading
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from shippers.errors import CatalogError

Outcome = Literal["success", "failure"]
Severity = Literal["info", "notice", "warning", "error", "critical"]

OUTCOMES: tuple[Outcome, ...] = ("success", "failure")
SEVERITIES: tuple[Severity, ...] = ("info", "notice", "warning", "error", "critical")
# Why: type names are used in metric labels, S3 keys and tags: keep them to a safe,
# dotted lower-case alphabet (the provider's own names all fit it).
TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$")
REASON_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
# Why: the two OCSF IAM classes an authentication event can be (DESIGN.md mapping table).
OCSF_CLASSES = {3002: "Authentication", 3001: "Account Change"}
DEFAULT_OCSF = {"success": (3002, 99), "failure": (3002, 99)}
DEFAULT_ECS = {"category": ["authentication"], "type": ["info"]}
DEFAULT_SEVERITY: dict[Outcome, Severity] = {"success": "info", "failure": "warning"}
# Why: difflib's cutoff for a "did you mean" hint; 0.6 keeps one-letter slips and drops noise.
HINT_CUTOFF = 0.6
# Why: a hint costs ~0.1 ms of difflib; hints are memoised per type string, and 4096 distinct
# misspellings cover any real fleet while bounding memory (a name is at most 1 KiB) under a flood.
HINT_CACHE_SIZE = 4096
# Why: a batch (one validate_raw call, <= 1000 items from the sidecar) computes at most this many
# hints it has not seen before (~2 ms); further new names get the `authlog catalog` pointer, so a
# body of distinct unknown types is rejected about as fast as valid events are accepted.
NEW_HINTS_PER_BATCH = 16


class HintBudget:
    """How many not-yet-memoised "did you mean" hints one batch of items may still compute."""

    __slots__ = ("left",)

    def __init__(self, new_hints: int = NEW_HINTS_PER_BATCH) -> None:
        self.left = new_hints

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


@dataclass(frozen=True, slots=True)
class EventType:
    """One catalog entry."""

    name: str
    action: str
    outcome: Outcome
    description: str
    reasons: dict[str, str] = field(default_factory=dict)
    ecs_category: tuple[str, ...] = ("authentication",)
    ecs_type: tuple[str, ...] = ("info",)
    ocsf_class_uid: int = 3002
    ocsf_activity_id: int = 99
    severity: Severity = "info"
    source: Literal["builtin", "extra"] = "builtin"

    def describe(self, reason: str | None) -> str:
        """The description for an event of this type with this (validated) reason."""
        if reason is None:
            return self.description
        return self.reasons[reason]

    def as_json(self) -> dict[str, Any]:
        """The shape ``authlog catalog --json`` prints (DESIGN.md)."""
        out: dict[str, Any] = {
            "type": self.name,
            "action": self.action,
            "outcome": self.outcome,
            "description": self.description,
            "reasons": [{"code": c, "description": d} for c, d in self.reasons.items()],
        }
        if self.source == "extra":
            out["source"] = "extra"
        return out


class Catalog:
    """A read-only set of event types, looked up by name."""

    def __init__(self, types: dict[str, EventType]) -> None:
        self._types = dict(types)
        self._hints: dict[str, str | None] = {}  # memoised closest(); insertion order = eviction order
        self._hints_lock = threading.Lock()
        # difflib's ratio is 2*matches/(len(a)+len(b)): a name longer than this can reach the cutoff with no type.
        longest = max((len(n) for n in self._types), default=0)
        self._hint_max_chars = int(longest * (2 / HINT_CUTOFF - 1)) + 1

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __getitem__(self, name: str) -> EventType:
        return self._types[name]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._types.values())

    def __len__(self) -> int:
        return len(self._types)

    def get(self, name: str) -> EventType | None:
        return self._types.get(name)

    @property
    def names(self) -> list[str]:
        return list(self._types)

    def closest(self, name: str, budget: HintBudget | None = None) -> str | None:
        """The known type name nearest to a misspelled one, if any is near enough.

        Memoised per name (at most HINT_CACHE_SIZE names). With ``budget``, a name not seen
        before is only compared with the catalog while the budget lasts (None after that).
        """
        if len(name) > self._hint_max_chars:
            return None  # too long to be near any type: no difflib needed to say so
        try:
            return self._hints[name]
        except KeyError:
            pass
        if budget is not None and not budget.take():
            return None
        match = difflib.get_close_matches(name, self._types, n=1, cutoff=HINT_CUTOFF)
        hint = match[0] if match else None
        with self._hints_lock:
            if len(self._hints) >= HINT_CACHE_SIZE:
                del self._hints[next(iter(self._hints))]
            self._hints[name] = hint
        return hint

    def extended(self, extra: Catalog) -> Catalog:
        clash = sorted(set(extra._types) & set(self._types))
        if clash:
            raise CatalogError(
                [f"types.{n}: already a built-in type; give your type another name" for n in clash]
            )
        return Catalog({**self._types, **extra._types})


def _parse_entry(name: str, raw: Any, source: Literal["builtin", "extra"]) -> tuple[EventType | None, list[str]]:
    where = f"types.{name}"
    problems: list[str] = []
    if not TYPE_NAME.match(name):
        problems.append(f"{where}: type names are dotted lower-case words like 'mfa.verification.completed'")
    if not isinstance(raw, dict):
        return None, [*problems, f"{where}: must be a table"]
    known = {"action", "outcome", "description", "reasons", "ecs", "ocsf", "severity"}
    problems += [f"{where}.{k}: unknown key (expected one of {', '.join(sorted(known))})" for k in raw if k not in known]
    outcome = raw.get("outcome")
    if outcome not in OUTCOMES:
        problems.append(f"{where}.outcome: must be 'success' or 'failure', got {outcome!r}")
        outcome = "success"
    for key in ("action", "description"):
        if not isinstance(raw.get(key), str) or not raw.get(key):
            problems.append(f"{where}.{key}: required, a non-empty string")
    reasons = raw.get("reasons", {})
    if not isinstance(reasons, dict) or not all(isinstance(v, str) and v for v in reasons.values()):
        problems.append(f"{where}.reasons: must be a table of code = \"description\"")
        reasons = {}
    problems += [f"{where}.reasons.{c}: codes are lower-case words like 'expired'" for c in reasons if not REASON_CODE.match(c)]
    ecs = raw.get("ecs", DEFAULT_ECS)
    if not (isinstance(ecs, dict) and all(isinstance(ecs.get(k), list) and ecs[k] for k in ("category", "type"))):
        problems.append(f"{where}.ecs: must be {{ category = [...], type = [...] }}")
        ecs = DEFAULT_ECS
    ocsf_default = DEFAULT_OCSF[outcome]
    ocsf = raw.get("ocsf", {"class_uid": ocsf_default[0], "activity_id": ocsf_default[1]})
    if not (isinstance(ocsf, dict) and ocsf.get("class_uid") in OCSF_CLASSES and isinstance(ocsf.get("activity_id"), int)):
        problems.append(f"{where}.ocsf: class_uid must be 3002 (Authentication) or 3001 (Account Change), activity_id an integer")
        ocsf = {"class_uid": ocsf_default[0], "activity_id": ocsf_default[1]}
    severity = raw.get("severity", DEFAULT_SEVERITY[outcome])
    if severity not in SEVERITIES:
        problems.append(f"{where}.severity: must be one of {', '.join(SEVERITIES)}")
        severity = DEFAULT_SEVERITY[outcome]
    if problems:
        return None, problems
    return (
        EventType(
            name=name,
            action=raw["action"],
            outcome=outcome,
            description=raw["description"],
            reasons=dict(reasons),
            ecs_category=tuple(ecs["category"]),
            ecs_type=tuple(ecs["type"]),
            ocsf_class_uid=ocsf["class_uid"],
            ocsf_activity_id=ocsf["activity_id"],
            severity=severity,
            source=source,
        ),
        [],
    )


def parse_catalog(doc: dict[str, Any], source: Literal["builtin", "extra"]) -> Catalog:
    """Validate a catalog document; every problem is collected into one CatalogError."""
    types = doc.get("types")
    if not isinstance(types, dict) or not types:
        raise CatalogError(["types: the file must define at least one [types.\"name\"] table"])
    problems = [f"{k}: unknown top-level key" for k in doc if k not in ("types", "schema_version")]
    parsed: dict[str, EventType] = {}
    for name, raw in types.items():
        entry, entry_problems = _parse_entry(name, raw, source)
        problems += entry_problems
        if entry is not None:
            parsed[name] = entry
    if problems:
        raise CatalogError(problems)
    return Catalog(parsed)


def builtin_catalog() -> Catalog:
    text = resources.files("shippers.data").joinpath("catalog.toml").read_text("utf-8")
    return parse_catalog(tomllib.loads(text), "builtin")


def load_catalog(extra: Path | None = None) -> Catalog:
    """The built-in catalog, extended by the user's file when one is given."""
    catalog = builtin_catalog()
    if extra is None:
        return catalog
    try:
        doc = tomllib.loads(extra.read_text("utf-8"))
    except OSError as exc:
        raise CatalogError([f"catalog.extra: cannot read {extra}: {exc.strerror}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError([f"catalog.extra: {extra} is not valid TOML: {exc}"]) from exc
    try:
        return catalog.extended(parse_catalog(doc, "extra"))
    except CatalogError as exc:
        raise CatalogError([f"catalog.extra ({extra}): {p}" for p in exc.problems]) from exc

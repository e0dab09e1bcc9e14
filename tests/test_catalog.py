"""The built-in catalog matches the provider's published list, and extension files follow the same rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shippers.catalog import builtin_catalog, load_catalog
from shippers.errors import CatalogError, ValidationError
from shippers.event import EventValidator

SEED = Path(__file__).parent / "data" / "seed-logged-events.txt"
# The page runs type and action together ("login.completedLogin completed"); actions start with a
# capital, or with "reCaptcha".
TYPE_AT_START = re.compile(r"^([a-z_]+\.[a-z_]+?)(?=[A-Z]|re[A-Z])")

# Where the catalog deliberately differs from the seed's text: (seed's text, ours), and why.
ACTION_FIXES = {"login.sms_sent": ("Magic link/code email sent to user", "Magic link/code SMS sent to user")}  # copy-paste slip
DESCRIPTION_FIXES = {
    "login.completed": ("User is logged in succesfully", "User is logged in successfully"),  # typo
    "signup.completed": ("Signup has completed successfull", "Signup has completed successfully"),  # typo
    "login.invalid_password": (
        "The password entered do not match the stored password",
        "The password entered does not match the stored password",
    ),  # grammar
}
# The seed's per-reason descriptions, by (type, reason code), and our wording of each.
REASONS = {
    ("magic_link.failed", "not_found"): ("Link used for login was not found used already", "Link used for login was not found or used already"),
    ("magic_link.failed", "expired"): ("Link used for login is expired", "Link used for login is expired"),
    ("magic_link.failed", "device_mismatch"): (
        "Magic link was used from a different device it was requested from",
        "Magic link was used from a different device than it was requested from",
    ),
    ("magic_code.failed", "not_found"): ("One time code used was not found", "One time code used was not found"),
    ("magic_code.failed", "expired"): ("One time code used is expired", "One time code used is expired"),
    ("user.locked", "limit_passed"): (
        "User has passed the lockout policy limits and cannot login",
        "User has passed the lockout policy limits and cannot login",
    ),
    ("user.locked", "locked"): ("User is locked and cannot login", "User is locked and cannot login"),
}


def parse_seed() -> dict[str, dict[str, object]]:
    """type -> {outcome, action, descriptions[]} from the seed page (first listing decides the outcome)."""
    types: dict[str, dict[str, object]] = {}
    outcome = None
    for line in SEED.read_text("utf-8").splitlines():
        if line.startswith("Success events"):
            outcome = "success"
        elif line.startswith("Error events"):
            outcome = "failure"
        match = TYPE_AT_START.match(line)
        if not match or outcome is None:
            continue
        name = match.group(1)
        rest = line[len(name) :]
        entry = types.setdefault(name, {"outcome": outcome, "lines": []})
        entry["lines"].append(rest)  # type: ignore[union-attr]
    return types


SEED_TYPES = parse_seed()
CATALOG = builtin_catalog()


def test_exactly_the_twenty_seed_types() -> None:
    """The catalog holds each type of the seed once: 20 types, the repeated success types counted once."""
    assert len(SEED_TYPES) == 20
    assert sorted(CATALOG.names) == sorted(SEED_TYPES)


@pytest.mark.parametrize("name", sorted(SEED_TYPES))
def test_type_matches_seed(name: str) -> None:
    """Outcome comes from the list the type is first on; action and description are the seed's text or a recorded fix."""
    entry = CATALOG[name]
    lines: list[str] = SEED_TYPES[name]["lines"]  # type: ignore[assignment]
    assert entry.outcome == SEED_TYPES[name]["outcome"]
    seed_action, our_action = ACTION_FIXES.get(name, (entry.action, entry.action))
    assert entry.action == our_action
    assert all(line.startswith(seed_action) for line in lines)
    if not entry.reasons:
        seed_description, our_description = DESCRIPTION_FIXES.get(name, (entry.description, entry.description))
        assert entry.description == our_description
        # startswith: the page's last line runs into a trailing "Info status" label.
        assert all(line[len(seed_action) :].startswith(seed_description) for line in lines)


@pytest.mark.parametrize(("name", "code"), sorted(REASONS))
def test_reason_matches_seed(name: str, code: str) -> None:
    """Every reason of the seed exists with its own description, and a reasoned type without a reason gets its action text."""
    seed_text, ours = REASONS[(name, code)]
    entry = CATALOG[name]
    assert entry.reasons[code] == ours
    assert any(line == entry.action + seed_text for line in SEED_TYPES[name]["lines"])  # type: ignore[union-attr]
    assert entry.describe(None) == entry.action


def test_only_three_types_have_reasons() -> None:
    """Reasons exist exactly for magic_link.failed, magic_code.failed and user.locked, no more."""
    with_reasons = {t.name: sorted(t.reasons) for t in CATALOG if t.reasons}
    assert with_reasons == {
        "magic_link.failed": ["device_mismatch", "expired", "not_found"],
        "magic_code.failed": ["expired", "not_found"],
        "user.locked": ["limit_passed", "locked"],
    }


def test_sms_sent_action_says_sms() -> None:
    """The seed's login.sms_sent action says 'email' (a copy-paste slip); the provider's newer docs say SMS, and so do we."""
    assert "SMS" in CATALOG["login.sms_sent"].action
    assert any("email" in line for line in SEED_TYPES["login.sms_sent"]["lines"])  # type: ignore[union-attr]


def test_extension_adds_types(tmp_path: Path) -> None:
    """A user's extension file adds types, marked as extra, with defaults that follow from the outcome."""
    extra = tmp_path / "my-events.toml"
    extra.write_text('[types."mfa.verification.completed"]\naction = "MFA verified"\noutcome = "success"\ndescription = "User passed MFA"\n')
    catalog = load_catalog(extra)
    entry = catalog["mfa.verification.completed"]
    assert len(catalog) == 21
    assert entry.source == "extra" and entry.severity == "info"
    assert entry.as_json()["source"] == "extra"


def test_extension_clash_and_bad_entries_are_all_reported(tmp_path: Path) -> None:
    """A clash with a built-in type and every malformed key are reported together, each with its key path."""
    extra = tmp_path / "bad.toml"
    extra.write_text(
        '[types."login.completed"]\naction = "x"\noutcome = "success"\ndescription = "y"\n'
        '[types."mfa.failed"]\naction = "x"\noutcome = "maybe"\ndescription = "y"\ncolour = "red"\n'
    )
    with pytest.raises(CatalogError) as caught:
        load_catalog(extra)
    text = "\n".join(caught.value.problems)
    assert "types.mfa.failed.outcome" in text and "types.mfa.failed.colour: unknown key" in text
    extra.write_text('[types."login.completed"]\naction = "x"\noutcome = "success"\ndescription = "y"\n')
    with pytest.raises(CatalogError, match="login.completed: already a built-in type"):
        load_catalog(extra)


def test_a_hint_is_computed_once_per_misspelt_name(monkeypatch: pytest.MonkeyPatch) -> None:
    """closest() memoises: 50,000 items with one unknown type cost difflib once, not 50,000 times."""
    import difflib

    from shippers import catalog as catalog_module

    calls: list[str] = []
    real = difflib.get_close_matches

    def counting(word: str, *args: object, **kwargs: object) -> list[str]:
        calls.append(word)
        return real(word, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(catalog_module.difflib, "get_close_matches", counting)
    catalog = builtin_catalog()
    validator = EventValidator(catalog)
    for _ in range(50_000):
        with pytest.raises(ValidationError, match="did you mean 'login.completed'"):
            validator.decode(b'{"type":"login.complete"}')
    assert calls == ["login.complete"]


def test_a_batch_computes_a_bounded_number_of_new_hints(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a HintBudget, distinct unknown names past NEW_HINTS_PER_BATCH get the catalog pointer, not difflib."""
    import difflib

    from shippers import catalog as catalog_module
    from shippers.catalog import NEW_HINTS_PER_BATCH, HintBudget

    calls: list[str] = []
    real = difflib.get_close_matches
    monkeypatch.setattr(catalog_module.difflib, "get_close_matches", lambda w, *a, **k: calls.append(w) or real(w, *a, **k))
    validator = EventValidator(builtin_catalog())
    hints = HintBudget()
    messages = []
    for i in range(1000):
        with pytest.raises(ValidationError) as caught:
            validator.decode(b'{"type":"login.complete%d"}' % i, None, hints)
        messages.append(caught.value.message)
    assert len(calls) == NEW_HINTS_PER_BATCH
    assert "did you mean" in messages[0] and "`authlog catalog` lists the known types" in messages[-1]


def test_a_name_too_long_to_be_near_any_type_skips_difflib(monkeypatch: pytest.MonkeyPatch) -> None:
    """A 1 KiB type name cannot reach the cutoff with any catalog name: no difflib call, no hint, same answer as before."""
    from shippers import catalog as catalog_module

    monkeypatch.setattr(catalog_module.difflib, "get_close_matches", lambda *a, **k: pytest.fail("difflib was called"))
    assert builtin_catalog().closest("login.completed." * 64) is None

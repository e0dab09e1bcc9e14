"""BoundedParts: the adapters' remembered parts start again instead of growing past their bounds."""

from shippers.bounded_parts import BoundedParts


def test_starts_again_at_the_entry_bound() -> None:
    """The entry past max_entries empties the dict first, so it never holds more than max_entries."""
    parts: BoundedParts[int, str] = BoundedParts(3)
    for key in range(3):
        assert parts.remember(key, str(key)) == str(key)
    parts.remember(3, "3")
    assert parts == {3: "3"}


def test_starts_again_at_the_byte_bound() -> None:
    """An entry whose size would pass max_bytes empties the dict first, and held_bytes counts from it again."""
    parts: BoundedParts[str, str] = BoundedParts(100, max_bytes=10)
    parts.remember("a", "x", 6)
    parts.remember("b", "y", 4)
    assert parts.held_bytes == 10 and len(parts) == 2
    parts.remember("c", "z", 1)
    assert parts == {"c": "z"} and parts.held_bytes == 1

"""The value types of the config's structs: sizes, durations, paths and secrets, as the loader decodes them."""

from __future__ import annotations


class ByteSize(int):
    """A size in bytes; written as an int or '10MiB'."""


class Duration(float):
    """A duration in seconds; written as a number or '5s'."""


class FilePath(str):
    """A path; relative ones resolve against the config file's folder."""

    __slots__ = ()


class Secret(str):
    """A credential: its repr never shows it (a config printed in a log or a traceback keeps it)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('***')"

"""The ``file`` adapter: archive lines as NDJSON in a local file, rotated by size (the embedded default)."""

from adapters.file.adapter import FileAdapter, FileConfig

__all__ = ["FileAdapter", "FileConfig"]

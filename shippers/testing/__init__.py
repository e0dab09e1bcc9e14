"""Test helpers that ship with the library: local stand-ins of every destination, an in-memory sink, a chaos adapter."""

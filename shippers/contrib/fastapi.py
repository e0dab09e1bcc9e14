"""FastAPI: the Starlette integration (:mod:`shippers.contrib.starlette`), under the name FastAPI users look for."""

from shippers.contrib.starlette import AuthEvents, AuthLog

__all__ = ["AuthEvents", "AuthLog"]

"""A User-Agent header -> browser, OS and device names (ua-parser, with its native accelerator when installed).

``ua-parser-rs`` (the Rust regex engine, pulled by ``ua-parser[regex]``) matches the
uap-core rules several times faster than Python's ``re``; without it the pure-Python resolver
gives the same answers. uap-core says ``Other`` for what it does not recognise: such parts are
left out, never stored as a name.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import ua_parser
from ua_parser import Domain

from shippers.enrichment.model import Device, OperatingSystem, UserAgent

# uap-core's name for "not recognised".
UNKNOWN = "Other"


def native_available() -> bool:
    """Whether the native accelerator (ua-parser-rs) is installed."""
    return importlib.util.find_spec("ua_parser_rs") is not None


def make_resolver(native: bool | None = None) -> Callable[[str], ua_parser.PartialResult]:
    """A resolver of all three domains: native when asked (or, with None, when available), else pure Python."""
    use_native = native_available() if native is None else native
    if use_native:
        from ua_parser.regex import Resolver as NativeResolver  # imports ua_parser_rs

        resolver = NativeResolver(ua_parser.load_lazy_builtins())
    else:
        resolver = ua_parser.BasicResolver(ua_parser.load_builtins())

    def resolve(text: str) -> ua_parser.PartialResult:
        return resolver(text, Domain.ALL)

    return resolve


def _version(*parts: str | None) -> str | None:
    """``120.0.0`` from the leading known parts (a missing part ends the version)."""
    known: list[str] = []
    for part in parts:
        if not part:
            break
        known.append(part)
    return ".".join(known) or None


def _known(name: str | None) -> str | None:
    return name if name and name != UNKNOWN else None


def user_agent_of(result: ua_parser.PartialResult) -> UserAgent | None:
    """The parsed parts that are known, or None when nothing is."""
    browser, system, device = result.user_agent, result.os, result.device
    name = _known(browser.family) if browser else None
    version = _version(browser.major, browser.minor, browser.patch) if browser and name else None
    os_name = _known(system.family) if system else None
    os_version = _version(system.major, system.minor, system.patch, system.patch_minor) if system and os_name else None
    os = OperatingSystem(name=os_name, version=os_version) if os_name else None
    device_name = _known(device.family) if device else None
    if name is None and os is None and device_name is None:
        return None
    return UserAgent(name=name, version=version, os=os, device=Device(name=device_name) if device_name else None)

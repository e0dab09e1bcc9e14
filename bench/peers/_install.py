"""Getting the peers onto this machine: rsyslog from Debian's packages, syslog-ng unpacked beside it.

rsyslog and syslog-ng conflict as Debian packages (both provide ``system-log-daemon``), so::

    rsyslog     apt-get install -y rsyslog-elasticsearch          (rsyslogd + omelasticsearch)
    syslog-ng   apt-get download syslog-ng-core syslog-ng-mod-http, plus each dependency that is
                not installed (rounds until none is missing), then dpkg -x all of them into
                <folder>/syslog-ng/root; it runs from there with LD_LIBRARY_PATH and --module-path

Whatever goes wrong is raised as :class:`Unavailable` with the reason, so the benchmark can go
on without that peer.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

# Why: an install or a download of a few MB from the package mirror; longer means it is stuck.
APT_TIMEOUT_SECONDS = 600
# Why: each round adds the dependencies of what the previous one fetched; libraries' chains are short.
MAX_DEPENDENCY_ROUNDS = 4
SYSLOG_NG_PACKAGES = ("syslog-ng-core", "syslog-ng-mod-http")
_APT_ENV = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}


class Unavailable(Exception):
    """A peer that cannot be run here, and why."""


def _run(command: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, env=_APT_ENV, capture_output=True, text=True,
                              timeout=APT_TIMEOUT_SECONDS, check=False)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise Unavailable(f"{' '.join(command[:3])}: {exc}") from None


def _tail(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def installed(package: str) -> bool:
    result = _run(["dpkg-query", "-W", "-f=${Status}", package])
    return result.returncode == 0 and "install ok installed" in result.stdout


def _apt(command: list[str], cwd: Path | None = None) -> None:
    """An apt-get command; after a failure, ``apt-get update`` once and the command again."""
    result = _run(command, cwd)
    if result.returncode != 0:
        _run(["apt-get", "update", "-qq"])
        result = _run(command, cwd)
    if result.returncode != 0:
        raise Unavailable(f"{' '.join(command)} failed: {_tail(result)}")


def rsyslog() -> str:
    """The rsyslogd binary, with omelasticsearch installed (installing it if need be)."""
    if not (shutil.which("rsyslogd") and installed("rsyslog-elasticsearch")):
        if shutil.which("apt-get") is None:
            raise Unavailable("no apt-get here to install rsyslog-elasticsearch")
        _apt(["apt-get", "install", "-y", "-q", "--no-install-recommends", "rsyslog-elasticsearch"])
    binary = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
    if not Path(binary).exists():
        raise Unavailable("rsyslog-elasticsearch is installed but rsyslogd is not on PATH")
    return binary


@dataclass(frozen=True)
class SyslogNg:
    """syslog-ng unpacked under ``root``, and how to run it from there."""

    root: Path

    @property
    def binary(self) -> Path:
        return self.root / "usr" / "sbin" / "syslog-ng"

    @property
    def module_path(self) -> Path:
        return next((self.root / "usr" / "lib" / "syslog-ng").glob("3.*"))

    @property
    def env(self) -> dict[str, str]:
        libs = [self.root / "usr/lib/syslog-ng", self.root / "usr/lib/x86_64-linux-gnu", self.root / "lib/x86_64-linux-gnu"]
        found = [str(path) for path in libs if path.is_dir()]
        return {**os.environ, "LD_LIBRARY_PATH": ":".join([*found, os.environ.get("LD_LIBRARY_PATH", "")]).rstrip(":")}

    def version(self) -> str:
        result = subprocess.run([str(self.binary), "--version"], env=self.env, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise Unavailable(f"the unpacked syslog-ng does not start: {_tail(result)}")
        return result.stdout.splitlines()[0]


def _missing_dependencies(packages: list[str], have: set[str]) -> list[str]:
    """Dependencies of ``packages`` neither installed nor already fetched (one of each ``|`` group)."""
    result = _run(["apt-cache", "depends", "--no-recommends", "--no-suggests", "--no-conflicts", "--no-breaks",
                   "--no-replaces", "--no-enhances", *packages])  # fmt: skip
    if result.returncode != 0:
        raise Unavailable(f"apt-cache depends failed: {_tail(result)}")
    missing: list[str] = []
    group: list[str] = []
    for line in result.stdout.splitlines():
        match = re.match(r"^\s*(\|?)(?:Pre)?Depends:\s*(\S+)", line)
        if not match:
            continue
        alternative, name = match.group(1) == "|", match.group(2)
        group.append(name)
        if alternative:  # "|Depends: a" then "Depends: b": a or b
            continue
        choices = [n for n in group if not n.startswith("<")]
        if choices and not any(n in have or n in packages or installed(n) for n in choices):
            missing.append(choices[0])
        group = []
    return sorted(set(missing))


def syslog_ng(folder: Path) -> SyslogNg:
    """syslog-ng with its http() module, downloaded and unpacked into ``folder`` once."""
    unpacked = SyslogNg(folder / "syslog-ng" / "root")
    if unpacked.binary.exists():
        unpacked.version()
        return unpacked
    for tool in ("apt-get", "apt-cache", "dpkg"):
        if shutil.which(tool) is None:
            raise Unavailable(f"no {tool} here to fetch syslog-ng")
    debs = folder / "syslog-ng" / "debs"
    shutil.rmtree(debs, ignore_errors=True)
    debs.mkdir(parents=True)
    wanted, fetched = list(SYSLOG_NG_PACKAGES), set[str]()
    for _ in range(MAX_DEPENDENCY_ROUNDS):
        if not wanted:
            break
        _apt(["apt-get", "download", *wanted], cwd=debs)
        fetched.update(wanted)
        wanted = _missing_dependencies(sorted(fetched), fetched)
    for deb in sorted(debs.glob("*.deb")):
        result = _run(["dpkg", "-x", str(deb), str(unpacked.root)])
        if result.returncode != 0:
            raise Unavailable(f"dpkg -x {deb.name} failed: {_tail(result)}")
    if not unpacked.binary.exists():
        raise Unavailable("the syslog-ng packages unpacked without usr/sbin/syslog-ng")
    unpacked.version()
    return unpacked

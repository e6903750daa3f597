"""deploy/requirements.lock pins every runtime dependency, by hash, within pyproject's ranges;
it goes stale (and this fails) when pyproject.toml changes without ``deploy/update-lock``."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.artefacts import DEPLOY, ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)")


def locked() -> dict[str, tuple[Version, list[str]]]:
    pins: dict[str, tuple[Version, list[str]]] = {}
    current: str | None = None
    for line in (DEPLOY / "requirements.lock").read_text().splitlines():
        match = PIN.match(line)
        if match:
            current = canonicalize_name(match.group(1))
            pins[current] = (Version(match.group(2)), [])
        elif current and line.strip().startswith("--hash=sha256:"):
            pins[current][1].append(line.strip().removeprefix("--hash=sha256:").rstrip(" \\"))
        elif not line.startswith(" "):
            current = None
    return pins


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = locked()
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in the lock: run deploy/update-lock"
        version = pins[name][0]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{name}=={version} does not satisfy '{text}': run deploy/update-lock"
        )


def test_extras_bring_their_packages() -> None:
    pins = locked()
    # uvicorn[standard] is what gives the event loop and parser the benchmarks assume
    assert {"uvloop", "httptools"} <= set(pins)
    assert "psycopg-binary" in pins, "psycopg[binary]: the image has no libpq or compiler"


def test_every_pin_carries_hashes() -> None:
    pins = locked()
    assert len(pins) > 20
    for name, (_version, hashes) in pins.items():
        assert hashes, f"{name} has no --hash line; pip --require-hashes would refuse the lock"
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), name


def test_the_lock_says_how_to_refresh_it() -> None:
    head = (DEPLOY / "requirements.lock").read_text().splitlines()[:3]
    assert any("deploy/update-lock" in line for line in head)
    assert (DEPLOY / "update-lock").stat().st_mode & 0o111

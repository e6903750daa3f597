"""What ``pip install .`` puts in the image: every package and data file of the source tree.

The package list in pyproject.toml is explicit, so a new sub-package or template that is not
listed works in an editable checkout and is missing from the wheel, the container image and
``scripts/serve``. These checks catch that before a build does.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

from tests.support.artefacts import ROOT


def setuptools_config() -> dict[str, object]:
    config: dict[str, object] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"][
        "setuptools"
    ]
    return config


def listed_packages() -> list[str]:
    packages = setuptools_config()["packages"]
    assert isinstance(packages, list)
    return [str(p) for p in packages]


def source_files(roots: set[str]) -> list[Path]:
    return sorted(
        p
        for root in roots
        for p in (ROOT / root).rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc",)
    )


def test_every_python_directory_is_a_listed_package() -> None:
    listed = set(listed_packages())
    roots = {p.split(".")[0] for p in listed}
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for path in source_files(roots)
        if path.suffix == ".py"
    }
    holding_files = {".".join(p.parent.relative_to(ROOT).parts) for p in source_files(roots)}
    assert found - listed == set(), f"add to [tool.setuptools].packages: {sorted(found - listed)}"
    assert listed - holding_files == set(), f"listed but absent: {sorted(listed - found)}"


def test_every_data_file_is_package_data() -> None:
    listed = set(listed_packages())
    roots = {p.split(".")[0] for p in listed}
    data = setuptools_config().get("package-data", {})
    assert isinstance(data, dict)
    for path in source_files(roots):
        if path.suffix == ".py":
            continue
        package = ".".join(path.parent.relative_to(ROOT).parts)
        # package-data patterns are relative to the package that declares them
        covered = any(
            fnmatch.fnmatch(str(path.relative_to(ROOT / owner.replace(".", "/"))), pattern)
            for owner, patterns in data.items()
            if package == owner or package.startswith(owner + ".")
            for pattern in patterns
        )
        assert covered, f"{path.relative_to(ROOT)} is not in [tool.setuptools.package-data]"

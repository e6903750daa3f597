"""The wheel must carry every package and the page's templates, CSS and script, and build
without setuptools warnings.

``scripts/serve`` installs with ``pip install .`` (not editable), so a package missing from the
explicit list, or a template outside the package-data globs, would only fail in production.
A warning at every build teaches people to ignore the build's output, so it is a failure too.
"""

from __future__ import annotations

import fnmatch
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
TOPS = ("inbound", "reconcile", "connectors", "scheduler")
PAGE = ROOT / "inbound" / "web" / "admin_page"


def test_every_folder_of_the_source_is_a_listed_package() -> None:
    """Folders of data (the page's templates and static files) included: Python can import
    any folder, and setuptools warns about one shipped without being listed."""
    found = {
        ".".join(path.parent.relative_to(ROOT).parts)
        for top in TOPS
        for path in (ROOT / top).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert found == set(CONFIG["packages"])


def test_the_page_assets_are_package_data() -> None:
    unshipped = [
        str(path.relative_to(ROOT))
        for folder in ("templates", "static")
        for path in (PAGE / folder).iterdir()
        if not any(
            fnmatch.fnmatch(path.name, pattern)
            for pattern in CONFIG["package-data"].get(f"inbound.web.admin_page.{folder}", [])
        )
    ]
    assert list((PAGE / "templates").iterdir())
    assert unshipped == []


@pytest.mark.slow
def test_pip_builds_the_wheel_quietly_with_the_page_assets(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for top in TOPS:
        shutil.copytree(ROOT / top, source / top, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-v", "--no-deps", "-w", str(tmp_path), "."],
        cwd=source,
        capture_output=True,
        text=True,
        check=False,
    )
    output = built.stdout + built.stderr
    assert built.returncode == 0, output[-3000:]
    warnings = [line for line in output.splitlines() if "absent from the `packages`" in line]
    assert warnings == []
    (wheel,) = tmp_path.glob("scim_sync-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("templates", "static"):
        for path in (PAGE / folder).iterdir():
            assert f"inbound/web/admin_page/{folder}/{path.name}" in names

"""The wheel must carry every package and the page's templates, CSS and script.

``scripts/serve`` installs with ``pip install .`` (not editable), so a package missing from the
explicit list, or a template outside the package-data globs, would only fail in production.
"""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_is_listed() -> None:
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("inbound", "reconcile", "connectors", "scheduler")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert found == set(CONFIG["packages"])


def test_the_page_assets_are_package_data() -> None:
    package = ROOT / "inbound" / "web" / "admin_page"
    patterns = CONFIG["package-data"]["inbound.web.admin_page"]
    assets = [
        str(path.relative_to(package))
        for folder in ("templates", "static")
        for path in (package / folder).iterdir()
    ]
    assert assets
    unshipped = [a for a in assets if not any(fnmatch.fnmatch(a, p) for p in patterns)]
    assert unshipped == []

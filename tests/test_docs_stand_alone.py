"""The repository stands alone: it cites no file outside itself, and every corpus fixture
names the section of docs/entra-dialect.md that describes what it replays."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIALECT = ROOT / "docs" / "entra-dialect.md"
OUTSIDE = re.compile(r"\bshared[/]|/work/|\b(?:ENTRA|DESIGN|INTERFACE|NOTES|STYLE)\.md\b")
"""Paths of the notes the project was started from, which the repository does not hold."""


def tracked_text_files() -> list[Path]:
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    paths = [ROOT / name.decode() for name in names if name]
    return [p for p in paths if p.is_file() and p.suffix not in (".png", ".whl")]


def test_no_file_cites_a_path_outside_the_repository() -> None:
    me = Path(__file__).resolve()
    cited = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in tracked_text_files()
        if path.resolve() != me
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert cited == []


def test_every_corpus_fixture_names_its_section_of_the_dialect_page() -> None:
    headings = {
        line.removeprefix("## ").strip()
        for line in DIALECT.read_text().splitlines()
        if line.startswith("## ")
    }
    fixtures = sorted((ROOT / "tests" / "inbound" / "web" / "corpus").glob("*.json"))
    assert fixtures
    for fixture in fixtures:
        source = json.loads(fixture.read_text())["source"]
        page, _, section = source.partition(": ")
        assert page == "docs/entra-dialect.md", fixture.name
        assert section.split(",")[0] in headings, (fixture.name, section)
        assert fixture.name in DIALECT.read_text(), f"the page does not name {fixture.name}"

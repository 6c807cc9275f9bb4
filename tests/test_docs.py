"""The folder explains itself: every document cited anywhere in it is in it, and nothing
cites notes that live outside it (docs/README.md)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from support import SUITE, suite_files

CITED_DOC = re.compile(r"docs/[A-Za-z0-9_.-]+\.md")
OUTSIDE = re.compile(r"PITFALLS|STYLE\.md|STYLE rules?\b|\.\./shared|/work/shared")
TEXT_SUFFIXES = {".py", ".md", ".sh", ".txt", ".json", ".ini", ".example", ".cfg", ".toml", ".yml", ".yaml", ""}


def copied_folder(tmp_path: Path) -> Path:
    """The suite as someone receives it: its files copied elsewhere (no .deps, no state)."""
    folder = tmp_path / "copied suite"
    for name in suite_files():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(SUITE / name, target)
    return folder


def texts(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and (path.suffix in TEXT_SUFFIXES or path.name == "Makefile"):
            try:
                found[str(path.relative_to(folder))] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return found


def test_every_cited_document_is_in_the_copied_folder(tmp_path: Path) -> None:
    folder = copied_folder(tmp_path)
    files = texts(folder)
    assert len(files) > 30, sorted(files)  # the copy really holds the suite
    # A project's own spec file named in the example config is that project's, not a citation.
    cited = {(name, doc) for name, text in files.items() if name != "tests/test_docs.py"
             for doc in CITED_DOC.findall(re.sub(r'"spec_file": "[^"]*"', "", text))}
    assert {doc for _, doc in cited} >= {"docs/delivery.md", "docs/scheduling.md", "docs/copy-and-move.md"}
    missing = sorted((name, doc) for name, doc in cited if not (folder / doc).is_file())
    planned = {"docs/agent-record.md", "docs/python-and-dependencies.md", "docs/workflow.md", "docs/attention.md"}
    assert [m for m in missing if m[1] not in planned] == [], "cited but not in the folder"
    # A planned document may be named in the docs index only, never cited as a reason.
    assert [m for m in missing if m[0] != "docs/README.md"] == []


def test_nothing_cites_notes_outside_the_folder(tmp_path: Path) -> None:
    files = texts(copied_folder(tmp_path))
    outside = sorted(f"{name}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
                     for name, text in files.items() if name != "tests/test_docs.py"
                     for m in OUTSIDE.finditer(text))
    assert outside == []


def test_every_docs_file_is_listed_in_the_index() -> None:
    index = (SUITE / "docs" / "README.md").read_text()
    for doc in sorted((SUITE / "docs").glob("*.md")):
        if doc.name != "README.md":
            assert f"({doc.name})" in index, doc.name


README_WORD_LIMIT = 1500
FOUR_COMMANDS = ("send_message.sh", "schedule_with_note.sh", "tmux_utils.py", "orchestrator_integration.py")


def test_the_readme_stays_short_and_names_the_commands_a_newcomer_needs() -> None:
    """The README is for a newcomer: under 1,500 words counted as `wc -w` counts them (tokens
    between whitespace), naming the four commands and the two make targets it starts with;
    everything else lives in docs/ (docs/README.md)."""
    readme = (SUITE / "README.md").read_text(encoding="utf-8")
    words = len(readme.split())
    assert words < README_WORD_LIMIT, f"README.md has {words} words; move detail into docs/"
    missing = [name for name in (*FOUR_COMMANDS, "make demo", "make test") if name not in readme]
    assert missing == [], f"README.md does not name {missing}"


def where_things_are(text: str) -> list[str]:
    """The rows of the "Where things are" table: the table whose header is `| where | what |`."""
    lines = text.splitlines()
    start = lines.index("| where | what |")
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def test_the_readme_claude_md_and_the_docs_index_show_the_same_layout() -> None:
    readme = where_things_are((SUITE / "README.md").read_text(encoding="utf-8"))
    assert len(readme) > 5 and any("`orc/messages/`" in row for row in readme)
    assert where_things_are((SUITE / "CLAUDE.md").read_text(encoding="utf-8")) == readme
    assert where_things_are((SUITE / "docs" / "README.md").read_text(encoding="utf-8")) == readme


def test_every_path_the_layout_table_names_is_in_the_suite() -> None:
    named = {path for row in where_things_are((SUITE / "README.md").read_text(encoding="utf-8"))
             for path in re.findall(r"`([\w./-]+)`", row) if "/" in path or "." in path}
    assert {"orc/core/", "orc/record/", "orc/messages/", "orc/scheduling/", "orc/teams/"} <= named
    assert sorted(path for path in named if not (SUITE / path).exists()) == []
    # ...and every part of orc/ has its row.
    parts = {f"orc/{p.name}/" for p in (SUITE / "orc").iterdir() if (p / "__init__.py").is_file()}
    assert parts <= named

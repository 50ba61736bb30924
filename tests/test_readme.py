"""The README and docs/ stay one set of documents while many hands edit them: every link
between them leads somewhere, and the README's IPC summary names the whole API."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from engine.rpc.handshake import api_info

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h.strip().lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_link_to_a_file_or_a_heading_leads_somewhere(document: Path) -> None:
    broken = []
    for link in LINK.findall(document.read_text(encoding="utf-8")):
        if link.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        if not target.exists() or (
            anchor and target.suffix == ".md" and anchor not in _anchors(target)
        ):
            broken.append(link)
    assert broken == []


def test_the_readme_ipc_summary_names_every_method_and_event() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = readme.index("## The IPC protocol, in brief")
    summary = readme[start : readme.index("\n## ", start + 1)]
    info = api_info()
    missing = [n for n in [*info["methods"], *info["events"]] if f"`{n}`" not in summary]
    assert missing == []

"""Draws the package diagram of docs/architecture.md from the code's real imports (``make architecture``).

Each box is a layer (``states``, ``web``...) or, inside ``workflow``, one of its rooms; each arrow is
"imports", labelled with how many modules import across it. ``--check`` exits 1 when the page's
diagram no longer matches the imports.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
PACKAGES = ("riverchief", "web", "notifications", "reports", "workflow", "states")
ROOMS = ("jobs", "meetings", "patrols", "enforcement", "maps", "accounts", "reading", "core")
BEGIN, END = "<!-- BEGIN GENERATED: scripts/architecture.py -->", "<!-- END GENERATED -->"


def box(module: str) -> str:
    """The box a module is drawn in: its top-level package, or its room inside workflow."""
    parts = module.split(".")
    if parts[0] == "workflow" and len(parts) > 1 and parts[1] in ROOMS:
        return f"workflow.{parts[1]}"
    return parts[0]


def edges() -> Counter[tuple[str, str]]:
    """(importer box, imported box) → how many modules of the first import the second."""
    sys.path.insert(0, str(ROOT))
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    found: Counter[tuple[str, str]] = Counter()
    for module in sorted(graph.modules):
        targets = {box(m) for m in graph.find_modules_directly_imported_by(module)}
        for target in targets - {box(module)}:
            found[(box(module), target)] += 1
    return found


def mermaid() -> str:
    """The diagram as a Mermaid flowchart, top layer first."""
    lines = ["```mermaid", "flowchart TD"]
    lines += [f"    {p}[{p}]" for p in PACKAGES if p != "workflow"]
    lines.append("    subgraph workflow")
    lines += [f"        workflow.{r}[{r}]" for r in ROOMS]
    lines.append("    end")
    for (source, target), count in sorted(edges().items()):
        lines.append(f"    {source} -->|{count}| {target}")
    lines.append("```")
    return "\n".join(lines)


def page_with_diagram(text: str) -> str:
    """The page with its generated block replaced by the current diagram."""
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    return f"{head}{BEGIN}\n{mermaid()}\n{END}{tail}"


def main() -> int:
    """Rewrite the page, or with ``--check`` say whether it is current."""
    text = PAGE.read_text(encoding="utf-8")
    current = page_with_diagram(text)
    if "--check" in sys.argv[1:]:
        if current != text:
            print("docs/architecture.md is out of date: run `make architecture`", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(current, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

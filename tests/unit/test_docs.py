"""The generated documents stay in step with the chart they are generated from."""

from pathlib import Path

from states.diagram import markdown, mermaid

ROOT = Path(__file__).resolve().parents[2]


def test_docs_statechart_is_regenerated_whenever_the_chart_changes() -> None:
    on_disk = (ROOT / "docs" / "statechart.md").read_text(encoding="utf-8")
    assert on_disk == markdown(), "docs/statechart.md is out of date: run `make chart`"


def test_the_diagram_draws_every_transition_and_phase() -> None:
    from states.chart import PHASES, TRANSITIONS

    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2")
    arrows = [line for line in diagram.splitlines() if "-->" in line and "[*]" not in line]
    assert len(arrows) == sum(len(t.sources) for t in TRANSITIONS)
    for phase in PHASES:
        assert f"state {phase.name} {{" in diagram


def test_the_architecture_diagram_is_drawn_from_the_imports_as_they_are() -> None:
    import re
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "architecture.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert "workflow.jobs -->" in page
    assert "workflow.core -->|" in page
    assert not re.search(r"workflow\.core -->\|\d+\| workflow", page)  # the core imports no other room

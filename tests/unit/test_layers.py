"""The layers are contracts: the tree keeps them, and an import across a layer breaks the build."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("states", "workflow", "notifications", "reports", "web", "riverchief")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    """Run import-linter over ``tree`` with the project's contracts."""
    return subprocess.run(
        [str(LINT_IMPORTS), str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture(scope="module")
def copy_of_the_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's packages and pyproject, copied where a test may break them."""
    tree = tmp_path_factory.mktemp("tree")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "static"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_tree_keeps_every_contract(copy_of_the_tree: Path) -> None:
    result = lint_imports(copy_of_the_tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


CONTRACTS = {
    c["id"]: c["name"]
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
}

# (module that gains the import, the import, the contract that must break)
VIOLATIONS = {
    "the core imports the web layer": ("workflow/core/clock.py", "import web.api", "layers"),
    "a capability imports another": (
        "workflow/patrols/records.py",
        "import workflow.enforcement.cases",
        "workflow-rooms",
    ),
    "reading imports a job": ("workflow/reading/figures.py", "import workflow.jobs.runs", "workflow-rooms"),
    "a core module imports back a module that imports it": (
        "workflow/core/uow.py",
        "import workflow.core.services",
        "acyclic",
    ),
    "the statechart imports a database library": ("states/chart.py", "import sqlalchemy", "states-pure"),
    "a report imports the web layer": ("reports/figures.py", "import web.access", "layers"),
    "the web layer imports the composition root": ("web/access.py", "import riverchief.settings", "layers"),
}


@pytest.mark.parametrize("case", VIOLATIONS)
def test_an_import_across_a_layer_breaks_its_contract(copy_of_the_tree: Path, case: str) -> None:
    module, statement, contract = VIOLATIONS[case]
    path = copy_of_the_tree / module
    original = path.read_text(encoding="utf-8")
    path.write_text(original + f"\n{statement}  # a deliberate violation\n", encoding="utf-8")
    try:
        result = lint_imports(copy_of_the_tree)
    finally:
        path.write_text(original, encoding="utf-8")
    assert result.returncode != 0, f"{case}: lint-imports passed\n{result.stdout}"
    said = " ".join(result.stdout.split())
    assert f"{CONTRACTS[contract]} BROKEN" in said, result.stdout

"""The live-issue partial index names the chart's terminal states, in the migration and in the models alike."""

import importlib.util
import re
from types import ModuleType

from migrations import versions
from states.chart import STATES, TERMINAL_STATES
from workflow.core.models import LIVE_STATES_SQL, Issue, table_of


def _migration() -> ModuleType:
    (path,) = (p for p in versions.__path__ if p)  # one folder
    spec = importlib.util.spec_from_file_location("live_index", f"{path}/0018_live_issue_index.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _named(predicate: str) -> set[str]:
    assert re.fullmatch(r"state NOT IN \('[a-z._]+'(, '[a-z._]+')*\)", predicate), predicate
    return set(re.findall(r"'([^']+)'", predicate))


def test_the_migrations_predicate_names_the_charts_terminal_states() -> None:
    # A state made terminal (or no longer) in states/chart.py leaves the index built by migration 0018
    # naming the old set: the queries, which say the new one, would no longer be served by it. Then a new
    # migration must rebuild the index with the new predicate, and this test read that one.
    migration = _migration()
    assert set(migration.TERMINAL_STATES) == TERMINAL_STATES == {s.name for s in STATES if s.terminal}
    assert _named(migration.LIVE) == TERMINAL_STATES


def test_the_models_index_says_the_predicate_the_migration_built() -> None:
    (index,) = (ix for ix in table_of(Issue).indexes if ix.name == "ix_issue_live_created")
    for dialect in ("postgresql", "sqlite"):
        assert str(index.dialect_options[dialect]["where"]) == LIVE_STATES_SQL == _migration().LIVE
    assert [c.name for c in index.columns] == ["compact_id", "created_at", "id"]

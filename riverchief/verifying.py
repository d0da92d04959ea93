"""``ledger verify --jobs N``: the chains checked by issue in several processes, the seals in this one.

Each chain stands alone (an issue's events hash only into its own chain), so issues can be checked in any
order and in parallel; each process reads its issues in one snapshot of its own. The seals hash every chain
head together and are checked once, here, after the chains.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from riverchief.bootstrap import App
    from riverchief.settings import Settings
    from workflow.core.ledger import VerifyReport

# Issues per task: large enough that a task's start costs little, small enough for a steady progress bar.
CHUNK = 2000

_worker_app: App | None = None


def _start_worker(settings: Settings) -> None:
    """Each process wires its own app (engine and pool) from the command's settings."""
    global _worker_app  # one app per worker process, made once
    from riverchief.bootstrap import bootstrap

    _worker_app = bootstrap(settings)


def _verify_chunk(issue_ids: list[int]) -> VerifyReport:
    from workflow.core.ledger import verify

    assert _worker_app is not None
    with _worker_app.reader() as uow:
        return verify(uow.session, issue_ids=issue_ids)


def verify_in_parallel(
    app: App,
    issue_ids: Sequence[int],
    jobs: int,
    advance: Callable[[int], None] | None = None,
    *,
    chunk: int = CHUNK,
) -> VerifyReport:
    """Every chain of ``issue_ids`` checked in ``jobs`` processes, then every seal; findings in issue order."""
    from workflow.core.ledger import VerifyReport, add_seals

    report = VerifyReport()
    chunks = [list(issue_ids[i : i + chunk]) for i in range(0, len(issue_ids), chunk)]
    found: dict[int, VerifyReport] = {}
    # spawn, not fork: a forked child would share the parent's pooled connections.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=jobs, mp_context=context, initializer=_start_worker, initargs=(app.settings,)
    ) as pool:
        pending = {pool.submit(_verify_chunk, chunk): n for n, chunk in enumerate(chunks)}
        for done in as_completed(pending):
            n = pending[done]
            found[n] = done.result()
            if advance is not None:
                advance(len(chunks[n]))
    for n in range(len(chunks)):
        part = found[n]
        report.issues += part.issues
        report.events += part.events
        report.findings.extend(part.findings)
    with app.reader() as uow:
        add_seals(uow.session, report)
    return report

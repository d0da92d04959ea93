"""The workflow layer: everything that reads or changes riverchief's rows, in one sub-package per capability.

- ``core``: the issue core (tables, unit of work, ``apply``, guards and effects, payload checks, ledger,
  outbox, deadlines, calendar, errors, clock, reference loading, evidence and report filing).
- ``reading``: the read-side queries the API, pages, CLI and reports share (issues, directory, worklists,
  figures, the dossier behind each report).
- ``maps``: the shared map's layers and the point router.
- ``patrols``: quotas, tracks, swap pairings, patrol records, completion, scorecards, funding.
- ``enforcement``: joint enforcement cases and litigation lead transfers.
- ``meetings``: joint meetings as records, their attendance and decisions, and action items.
- ``accounts``: passwords, browser sessions and API tokens.
- ``jobs``: the scheduler's periodic jobs, which drive the capabilities above and are imported by none.

The arrows between them are import-linter contracts in ``pyproject.toml``: ``jobs`` over the capabilities
over ``core``, the capabilities independent of each other, and nothing here imports ``web``,
``notifications``, ``reports`` or ``riverchief``.
"""

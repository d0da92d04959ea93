"""The issue core: tables, the unit of work, ``apply`` with its guards, effects and payload checks, the ledger,
the outbox, deadlines and the working-day calendar, errors, the clock, reference loading, evidence, report filing,
and what a map draws of a stored geometry (written with it by the reference loader and the map's layers).

It may import ``states`` and nothing else of the project: every other workflow sub-package stands on it.
"""

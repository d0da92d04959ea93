"""Who hears of each trigger: the parties an outbox row is written for.

The actor is never told of their own step. Coordinators hear of everything
that needs the compact's attention; auditors hear of closures they will revisit.
"""

from __future__ import annotations

from types import MappingProxyType

from states.chart import Party

_REP, _REC, _COORD, _AUD = Party.REPORTING, Party.RECEIVING, Party.COORDINATOR, Party.AUDITOR

AUDIENCE: MappingProxyType[str, frozenset[Party]] = MappingProxyType(
    {
        "flag": frozenset({_COORD}),
        "report": frozenset({_COORD}),
        "investigate": frozenset(),
        "confirm": frozenset({_COORD}),
        "dismiss": frozenset({_COORD}),
        "hand_off": frozenset({_REC, _COORD}),
        "accept": frozenset({_REP}),
        "dispute": frozenset({_REP, _COORD}),
        "negotiate": frozenset({_REP, _REC, _COORD}),
        "agree": frozenset({_REP, _REC, _COORD}),
        "convene": frozenset({_REP, _REC, _COORD}),
        "resolve": frozenset({_REP, _REC}),
        "dispatch": frozenset({_REP, _REC, _COORD}),
        "start_rectify": frozenset({_REP}),
        "progress": frozenset({_REP}),
        "report_done": frozenset({_REP, _COORD}),
        "request_verify": frozenset({_REP, _REC}),
        "pass_check": frozenset({_REP, _REC}),
        "fail_check": frozenset({_REC, _COORD}),
        "close": frozenset({_REC, _COORD, _AUD}),
        "start_revisit": frozenset({_REP, _REC}),
        "no_rebound": frozenset({_REP, _REC, _COORD}),
        "rebound": frozenset({_REP, _REC, _COORD}),
        "archive": frozenset({_COORD}),
        "file_report": frozenset(),
        "add_evidence": frozenset(),
        "reschedule": frozenset({_REP, _REC}),
        # The duplicate's sides learn where their report went; the original's learn it was seen again.
        "mark_duplicate": frozenset({_REP, _REC, _COORD}),
        "duplicate_linked": frozenset({_REP, _REC}),
    }
)

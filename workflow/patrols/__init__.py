"""巡: patrol quotas, tracks, swap-patrol pairings, patrol records and the issues found on them, completion,
scorecards and funding, one module each.

The swap rule: a chief patrols and reports on a segment that is not their own only under a live pairing
(交叉互巡) that gives them that segment on that day. Every issue found on a patrol is reported through
``workflow.core.services`` and linked to the patrol; one found on a swap patrol is handed to the owner side
at once (发现问题第一时间反馈至对方). It may import ``workflow.core``, ``workflow.reading`` and ``states``.
"""

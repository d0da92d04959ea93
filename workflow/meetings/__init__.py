"""办/督: joint meetings (联席会议) as records, and the action items their decisions create.

A meeting of a compact has a level, a time and place, a convener, invitees from the member
jurisdictions, attendance, an agenda of issues and decisions. Putting an issue to a meeting is the
issue's ``convene`` step and deciding it is its ``resolve`` step, both fired through
``workflow.core.services`` in the meeting's own transaction: a meeting on five issues convenes all five
or none. A decision not tied to an issue is an action item with an owner jurisdiction and a due day,
watched by the scheduler (``workflow.jobs.meetings``). Coordinators convene and decide; everyone of
the compact reads its meetings. It may import ``workflow.core``, ``workflow.reading`` and ``states``.
"""

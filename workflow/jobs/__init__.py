"""The scheduler's periodic jobs, as plain functions of (units of work, clock, period).

Each job is idempotent on its own: escalations are ordinary ``apply`` calls with the version the sweep saw,
notices carry a topic that is unique per recipient, bulletins and seals are unique per period. ``runs`` adds
the job-runs table on top, so a period done is never done again and a period missed is caught up once.
Jobs import the capabilities they drive; no capability imports them.
"""

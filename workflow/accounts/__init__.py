"""Accounts: argon2id passwords, throttled sign-ins and browser sessions (``signin``), personal API tokens (``tokens``).

Who is acting (``workflow.core.actors``) is part of the core, since every step needs it; this package only
proves who a caller is. It may import ``workflow.core``.
"""

"""The typed errors of the workflow, each mapped once to an HTTP status and a CLI message."""

from __future__ import annotations

from collections.abc import Sequence


class Reason(str):
    """Why something is refused, in both languages: a key of ``states.reasons.REASONS`` with its values.

    As a str it is what the API and the CLI say: the English, or "中文 (English)" where they always
    said both (``Reason.in_both``), so every interface keeps its words; a page says ``zh`` or ``en``.
    A value given as a (zh, en) pair is said in each language's own words.
    """

    zh: str
    en: str

    def __new__(cls, key: str, **values: object) -> Reason:
        return cls._said(key, values, both=False)

    @classmethod
    def in_both(cls, key: str, **values: object) -> Reason:
        """A reason the API and the CLI give as "中文 (English)"."""
        return cls._said(key, values, both=True)

    @classmethod
    def _said(cls, key: str, values: dict[str, object], *, both: bool) -> Reason:
        # Imported when a reason is said, not with the errors: the command line's help loads no statechart.
        from states.reasons import REASONS

        zh, en = REASONS[key]
        zh = zh.format(**{k: v[0] if isinstance(v, tuple) else v for k, v in values.items()})
        en = en.format(**{k: v[1] if isinstance(v, tuple) else v for k, v in values.items()})
        said = str.__new__(cls, f"{zh} ({en})" if both else en)
        said.zh, said.en = zh, en
        return said

    def __reduce__(self) -> tuple[type[str], tuple[str]]:
        # Copied or pickled, it is the words it says.
        return (str, (str(self),))


class WorkflowError(Exception):
    """Base of every refusal the workflow gives; nothing was changed when one is raised."""

    http_status = 400


class NotFound(WorkflowError):
    """A named thing does not exist."""

    http_status = 404

    def __init__(self, what: str, key: object) -> None:
        super().__init__(f"{what} not found: {key}")
        self.what = what
        self.key = key


class Unauthenticated(WorkflowError):
    """No valid credentials came with the request."""

    http_status = 401


class InvalidTransition(WorkflowError):
    """The trigger is not allowed from the issue's current state."""

    http_status = 409

    def __init__(self, issue: str, state: str, trigger: str, allowed: Sequence[str] = ()) -> None:
        hint = f"; allowed now: {', '.join(allowed)}" if allowed else ""
        super().__init__(f"{issue}: cannot {trigger!r} from state {state!r}{hint}")
        self.issue, self.state, self.trigger, self.allowed = issue, state, trigger, tuple(allowed)


class NotPermitted(WorkflowError):
    """The actor does not stand to the issue as the trigger requires."""

    http_status = 403

    def __init__(self, actor: str, trigger: str, required: Sequence[str], held: Sequence[str]) -> None:
        held_text = ", ".join(held) or "none"
        super().__init__(
            f"{actor} may not {trigger!r}: it takes one of {', '.join(required)}; {actor} is {held_text} here"
        )
        self.actor, self.trigger, self.required, self.held = actor, trigger, tuple(required), tuple(held)


class Conflict(WorkflowError):
    """Someone else changed the issue since the caller read it (stale version)."""

    http_status = 409

    def __init__(self, issue: str, expected: int, actual: int | None) -> None:
        now = "unknown" if actual is None else str(actual)
        super().__init__(f"{issue} was changed by someone else: expected version {expected}, it is now {now}")
        self.issue, self.expected, self.actual = issue, expected, actual


class ValidationFailed(WorkflowError):
    """Input is wrong; ``errors`` names every bad field and the reason."""

    http_status = 422

    def __init__(self, field: str, reason: str, more: Sequence[tuple[str, str]] = ()) -> None:
        self.errors: tuple[tuple[str, str], ...] = ((field, reason), *more)
        super().__init__("; ".join(f"{f}: {r}" for f, r in self.errors))
        self.field, self.reason = field, reason

    @classmethod
    def of(cls, errors: Sequence[tuple[str, str]]) -> ValidationFailed:
        """One error carrying several (field, reason) pairs."""
        (field, reason), *more = errors
        return cls(field, reason, more)


class TooLarge(ValidationFailed):
    """A request body or an upload over its size limit: refused before anything is read in or stored."""

    http_status = 413


class UnsupportedMediaType(ValidationFailed):
    """A request body or an upload in a format the route does not take (judged by content where it can be)."""

    http_status = 415


class Throttled(WorkflowError):
    """Too many failed sign-ins lately; the password was not checked. Try again after ``retry_after`` seconds."""

    http_status = 429

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, -(-retry_after // 60))
        super().__init__(
            f"登录失败次数过多，请 {minutes} 分钟后再试 (too many failed sign-ins; try again in {retry_after} s)"
        )
        self.retry_after = retry_after


class CsrfRefused(WorkflowError):
    """A signed-in browser's unsafe request came without its session's CSRF token."""

    http_status = 403

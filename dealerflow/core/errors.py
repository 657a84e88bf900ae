"""The one error model of the domain. Services raise these; the API maps them once (api/errors.py)
to an HTTP status and one body shape, the CLI prints them, activities mark them non-retryable.

Each error carries a message for a person and, where the fault is in the input, the places at fault:
`{"field": "lines[1].sku", "message": …}` or `{"line": 7, "message": …}`."""
from __future__ import annotations


class DomainError(Exception):
    """Something the caller asked cannot be done as asked. `kind` names the family."""
    kind = "invalid"

    def __init__(self, message: str, *, field: str | None = None, line: int | None = None,
                 errors: list[dict] | None = None):
        super().__init__(message)
        self.message = message
        if errors is None:
            place = {"field": field} if field is not None else {"line": line} if line is not None else {}
            errors = [{**place, "message": message}] if place else []
        self.errors = errors

    def __str__(self) -> str:
        return self.message

    @classmethod
    def listing(cls, errors: list[dict]) -> "DomainError":
        """One error for several places at fault (every bad row of a file): its message names the first."""
        first = errors[0]
        place = first.get("field") or (f"line {first['line']}" if first.get("line") else
                                       f"item {first['index']}" if first.get("index") is not None else None)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        return cls((f"{place}: {first['message']}" if place else first["message"]) + more, errors=errors)


class Invalid(DomainError):
    """The input is wrong: a field, a line of a file, a value out of range."""
    kind = "invalid"


class NotFound(DomainError):
    """No such thing, or not one the caller may see (another dealer's order is not found, not forbidden)."""
    kind = "not_found"


class Conflict(DomainError):
    """The thing exists but its state does not allow this now (already answered, already ended, stale)."""
    kind = "conflict"


class Unauthenticated(DomainError):
    """The caller could not be told apart from anyone: no credential, or a signature that does not hold."""
    kind = "unauthenticated"


class Forbidden(DomainError):
    """The caller may see the thing but not do this to it (a role, four eyes)."""
    kind = "forbidden"


class TooLarge(Invalid):
    """The input is larger than the limit that applies to it."""
    kind = "too_large"


class Unsupported(Invalid):
    """The input is of a type that is not accepted here."""
    kind = "unsupported"


class TooManyAttempts(DomainError):
    """The caller tried too often (failed logins): refused until `retry_after` seconds have passed."""
    kind = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(DomainError):
    """A service the request needs (Temporal, the database) cannot be reached now: try again later."""
    kind = "unavailable"

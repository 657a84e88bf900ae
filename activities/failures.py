"""Failures that retrying cannot mend. A domain error (bad input, a state that does not allow the
step) or a data error from the database (a value out of range, a NOT NULL or CHECK violated, a NUL
character) fails the activity at once, non-retryable, with its message; the workflow decides what a
person is told. Everything else (a lost connection, a deadlock) is retried as Temporal does."""
from __future__ import annotations

from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from dealerflow.core.errors import DomainError

# SQLSTATE class 22 (data exception) and the integrity violations a retry cannot fix. A unique
# violation (23505) is left to retry: a concurrent insert of the same key may have won the race.
_FOR_GOOD = ("22", "23502", "23503", "23514")


def permanent(e: BaseException) -> ApplicationError | None:
    """The non-retryable failure for `e`, or None when a retry may succeed."""
    if isinstance(e, DomainError):
        return ApplicationError(e.message, {"errors": e.errors}, type=type(e).__name__, non_retryable=True)
    if isinstance(e, DBAPIError):
        code = getattr(e.orig, "pgcode", None) or ""
        if code.startswith(_FOR_GOOD) and (code.startswith("22") or isinstance(e, IntegrityError)):
            message = str(getattr(e.orig, "diag", None) and e.orig.diag.message_primary or e.orig).strip()
            return ApplicationError(f"the data cannot be stored: {message}", {"sqlstate": code},
                                    type="DataError", non_retryable=True)
    if isinstance(e, ValueError) and "NUL" in str(e):  # psycopg2 refuses a NUL character before sending
        return ApplicationError(f"the data cannot be stored: {e}", type="DataError", non_retryable=True)
    return None


class PermanentFailures(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next)


class _Inbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await self.next.execute_activity(input)
        except ApplicationError:
            raise
        except Exception as e:
            failure = permanent(e)
            if failure is None:
                raise
            raise failure from e

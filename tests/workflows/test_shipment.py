"""A parcel's workflow with activity doubles: silence after the signing confirms the receipt after
the configured days (skipped, not waited); the dealer's confirmation ends it at once; a damage
report asks HQ and closes the receipt to anything else."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError
from temporalio.service import RPCError

from dealerflow.contracts import (ReceiptInput, ReceiptResult, ReportInput, ReportOutcomeInput, ShipmentInput,
                                  ShipmentResult, Tracked)
from workflows import ShipmentWorkflow

from .doubles import Recorder, spec, task_activities, wait_for_event
from .test_processes import complete

DAYS = 7


def receipt_activities(rec: Recorder) -> list:
    @activity.defn(name="confirm_receipt")
    async def confirm_receipt(inp: ReceiptInput) -> ReceiptResult:
        rec.add("confirm_receipt", inp)
        return ReceiptResult(inp.parcel_id, "auto_confirmed" if inp.auto else "confirmed", "2026-12-02T00:00:00+00:00")

    @activity.defn(name="resolve_parcel_report")
    async def resolve_parcel_report(inp: ReportOutcomeInput) -> ReceiptResult:
        rec.add("resolve_parcel_report", inp)
        return ReceiptResult(inp.parcel_id, "reported", "2026-12-02T00:00:00+00:00")

    return [confirm_receipt, resolve_parcel_report]


def shipment(parcel_id: str) -> ShipmentInput:
    return ShipmentInput(parcel_id, str(uuid.uuid4()), 7, "D007", "SF", f"SF{parcel_id[:8]}", DAYS * 86400)


def test_silence_after_the_signing_confirms_the_receipt_after_the_configured_days(wf):
    rec = Recorder()
    parcel_id = str(uuid.uuid4())

    async def scenario():
        async with wf.worker(*receipt_activities(rec)) as tq:
            handle = await wf.client.start_workflow(ShipmentWorkflow.run, shipment(parcel_id),
                                                    id=f"shipment-{parcel_id}", task_queue=tq)
            await handle.signal(ShipmentWorkflow.tracked, Tracked("in_transit"))
            await handle.signal(ShipmentWorkflow.tracked, Tracked("signed", "2026-12-01T10:00:00+08:00"))
            await wait_for_event(handle, "timer_started")
            return await handle.result(), handle

    result, handle = wf.run(scenario())
    assert result == ShipmentResult(parcel_id, "auto_confirmed")
    [call] = rec.of("confirm_receipt")
    assert call.arg == ReceiptInput(parcel_id, "system", auto=True)
    started = next(e for e in wf.run(_history(handle))
                   if e.WhichOneof("attributes") == "timer_started_event_attributes")
    assert started.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta() == timedelta(days=DAYS)


async def _history(handle) -> list:
    return [e async for e in handle.fetch_history_events()]


def test_the_dealers_confirmation_ends_the_wait(wf):
    rec = Recorder()
    parcel_id = str(uuid.uuid4())

    async def scenario():
        async with wf.worker(*receipt_activities(rec)) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(ShipmentWorkflow.run, shipment(parcel_id),
                                                        id=f"shipment-{parcel_id}", task_queue=tq)
                await handle.signal(ShipmentWorkflow.tracked, Tracked("signed"))
                receipt = await handle.execute_update(ShipmentWorkflow.confirm, ReceiptInput(parcel_id, "dealer-7"))
                with pytest.raises(RPCError, match="already completed"):  # the API answers 409
                    await handle.execute_update(ShipmentWorkflow.confirm, ReceiptInput(parcel_id, "dealer-7"))
                return receipt, await handle.result()

    receipt, result = wf.run(scenario())
    assert receipt.receipt == "confirmed"
    assert result == ShipmentResult(parcel_id, "received")
    assert rec.args("confirm_receipt") == [ReceiptInput(parcel_id, "dealer-7")]


def test_a_damage_report_asks_hq_and_the_answer_closes_the_receipt(wf):
    rec = Recorder()
    parcel_id, report_id = str(uuid.uuid4()), str(uuid.uuid4())
    task = spec(str(uuid.uuid4()), kind="parcel_problem", subject_type="parcel", subject_id=parcel_id,
                assignee_role="hq", outcomes=["accept", "reject"], sla_seconds=2 * 86400, escalate_to="admin")

    async def scenario():
        async with wf.worker(*task_activities(rec), *receipt_activities(rec)) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(ShipmentWorkflow.run, shipment(parcel_id),
                                                        id=f"shipment-{parcel_id}", task_queue=tq)
                await handle.execute_update(ShipmentWorkflow.report, ReportInput(report_id, parcel_id, "dealer-7",
                                                                                 task))
                [opened] = await rec.wait_for("open_task")
                with pytest.raises(WorkflowUpdateFailedError) as refused:  # the report decides: no confirmation
                    await handle.execute_update(ShipmentWorkflow.confirm, ReceiptInput(parcel_id, "dealer-7"))
                assert refused.value.cause.type == "ReceiptClosed"
                await complete(wf, opened, "accept", "hq-1")
                return opened, await handle.result()

    opened, result = wf.run(scenario())
    assert opened.kind == "parcel_problem" and opened.assignee_role == "hq"
    assert result == ShipmentResult(parcel_id, "resolved")
    [resolved] = rec.args("resolve_parcel_report")
    assert (resolved.report_id, resolved.task.outcome, resolved.task.actor) == (report_id, "accept", "hq-1")
    assert rec.of("confirm_receipt") == []


def test_a_returned_parcel_ends_without_a_receipt(wf):
    rec = Recorder()
    parcel_id = str(uuid.uuid4())

    async def scenario():
        async with wf.worker(*receipt_activities(rec)) as tq:
            handle = await wf.client.start_workflow(ShipmentWorkflow.run, shipment(parcel_id),
                                                    id=f"shipment-{parcel_id}", task_queue=tq)
            await handle.signal(ShipmentWorkflow.tracked, Tracked("returned"))
            return await handle.result()

    assert wf.run(scenario()) == ShipmentResult(parcel_id, "returned")
    assert rec.calls == []

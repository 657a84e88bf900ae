"""One workflow per parcel, from the warehouse to the dealer's receipt: it waits for the carrier's
signing (told by the tracking ingest), then for the dealer to confirm the receipt or report a
damage or shortage (HQ answers that as a human task); a signed parcel the dealer says nothing about
confirms itself after the configured time. A returned parcel ends it. The dealer may confirm
before the signing is reported (the carrier's push may come late).

The tracking poll (`TrackingPollWorkflow`, on a schedule) polls providers without pushes, tells
parcels' workflows of signings the API could not tell, and starts the diversion cases its alerts
opened."""
from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, CaseInput, PollInput, PollResult, ReceiptInput, ReceiptResult,
                                      ReportInput, ReportOutcomeInput, ShipmentInput, ShipmentResult, ToldInput,
                                      Tracked, case_search_attributes)
    from dealerflow.contracts.diversion import workflow_id_for as case_workflow_id

from .diversion import CaseWorkflow
from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=30),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
POLL = dict(start_to_close_timeout=timedelta(minutes=5),
            retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1), maximum_attempts=3))


@workflow.defn
class ShipmentWorkflow:
    def __init__(self) -> None:
        self._state = "in_transit"
        self._signed = False
        self._closing = False  # a receipt is being recorded: no other answer is taken
        self._report: ReportInput | None = None
        self._receipt: ReceiptResult | None = None

    @workflow.run
    async def run(self, inp: ShipmentInput) -> ShipmentResult:
        self._stage("in_transit")
        await workflow.wait_condition(lambda: self._signed or self._answered() or self._state == "returned")
        if not self._answered() and self._state == "returned":
            self._stage("returned")
            return ShipmentResult(inp.parcel_id, "returned")
        outcome = "received"
        if not self._answered():
            self._stage("signed")
            try:
                await workflow.wait_condition(self._answered, timeout=timedelta(seconds=inp.auto_confirm_seconds))
            except asyncio.TimeoutError:
                self._closing = True
                self._receipt = await workflow.execute_activity(
                    "confirm_receipt", ReceiptInput(inp.parcel_id, "system", auto=True), result_type=ReceiptResult,
                    **ACTIVITY)
                self._stage("auto_confirmed")
                outcome = "auto_confirmed"
        if self._report is not None:
            self._stage("reported")
            answer = await ask(self._report.task)
            self._receipt = await workflow.execute_activity(
                "resolve_parcel_report", ReportOutcomeInput(self._report.report_id, inp.parcel_id, answer),
                result_type=ReceiptResult, **ACTIVITY)
            self._stage("resolved")
            outcome = "resolved"
        await workflow.wait_condition(workflow.all_handlers_finished)
        return ShipmentResult(inp.parcel_id, outcome)

    def _answered(self) -> bool:
        return self._closing or self._report is not None

    def _stage(self, stage: str) -> None:
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.signal
    def tracked(self, inp: Tracked) -> None:
        """The ingest saw the parcel signed (or returned); the same news twice changes nothing."""
        if inp.state == "signed":
            self._signed = True
        elif inp.state == "returned":
            self._state = "returned"

    @workflow.update
    async def confirm(self, inp: ReceiptInput) -> ReceiptResult:
        """The dealer received the parcel."""
        self._closing = True
        self._receipt = await workflow.execute_activity("confirm_receipt", inp, result_type=ReceiptResult,
                                                        **ACTIVITY)
        self._stage("received")
        return self._receipt

    @confirm.validator
    def _validate_confirm(self, inp: ReceiptInput) -> None:
        self._still_open()

    @workflow.update
    def report(self, inp: ReportInput) -> str:
        """The dealer reports the parcel damaged or short: HQ is asked (the task id is returned)."""
        self._report = inp
        return inp.task.task_id

    @report.validator
    def _validate_report(self, inp: ReportInput) -> None:
        self._still_open()

    def _still_open(self) -> None:
        if self._closing or self._report is not None:
            raise ApplicationError("the parcel's receipt is already recorded", type="ReceiptClosed")
        if self._state == "returned":
            raise ApplicationError("the parcel was returned to the sender", type="ReceiptClosed")

    @workflow.query
    def progress(self) -> dict:
        return {"state": self._state, "signed": self._signed, "closing": self._closing,
                "reported": self._report is not None}


@workflow.defn
class TrackingPollWorkflow:
    """Poll the providers without pushes, tell workflows of signings, start the cases of alerts."""

    @workflow.run
    async def run(self, inp: PollInput) -> PollResult:
        result = await workflow.execute_activity("poll_tracking", inp, result_type=PollResult, **POLL)
        told = []
        for parcel in result.tell:
            try:
                await workflow.get_external_workflow_handle(parcel.workflow_id).signal(
                    ShipmentWorkflow.tracked, Tracked(parcel.state, parcel.at))
                told.append(parcel.parcel_id)
            except Exception:  # noqa: BLE001 — its workflow has ended (the receipt was recorded meanwhile)
                told.append(parcel.parcel_id)
        if told:
            await workflow.execute_activity("mark_parcels_told", ToldInput(told), **ACTIVITY)
        for case in result.cases:
            try:
                await workflow.start_child_workflow(
                    CaseWorkflow.run, CaseInput(case.case_id), id=case_workflow_id(case.case_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=case_search_attributes(case))
            except WorkflowAlreadyStartedError:
                pass
        return result

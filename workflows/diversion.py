"""One workflow per diversion case: the rules assess it → the investigator's task (the shared human
task child, with the rule file's role and SLA) → confirm (the dealer loses credit points, once) or
dismiss. Its id comes from the case id, so starting it twice starts it once; the API starts it after
the scans' commit, and the sweep starts any the API could not.

`DiversionSweepWorkflow` runs on a Temporal Schedule: shipment patterns (regional excess, stock-up),
points earned back for clean quarters, and the cases whose workflow never started."""
from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from dealerflow.contracts import (STAGE, CaseInput, CaseOutcomeInput,
                                      CaseResult, DiversionSweepInput, DiversionSweepResult,
                                      Investigation, InvestigationInput, case_search_attributes)
    from dealerflow.contracts.diversion import workflow_id_for

from .human_task import ask

ACTIVITY = dict(start_to_close_timeout=timedelta(seconds=60),
                retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=30)))
SWEEP = dict(start_to_close_timeout=timedelta(minutes=10),
             retry_policy=RetryPolicy(maximum_interval=timedelta(minutes=1)))



@workflow.defn
class CaseWorkflow:
    def __init__(self) -> None:
        self._stage = "assessing"
        self._severity: str | None = None

    @workflow.run
    async def run(self, inp: CaseInput) -> CaseResult:
        investigation = await workflow.execute_activity(
            "open_investigation",
            InvestigationInput(inp.case_id, str(workflow.uuid4()), workflow.now()),
            result_type=Investigation, **ACTIVITY)
        self._severity = investigation.severity
        if investigation.task is None:  # closed by the rules, or before this run
            self._set_stage(investigation.status)
            return CaseResult(inp.case_id, investigation.status, investigation.severity, 0)
        self._set_stage("investigating")
        spec = investigation.task
        answer = await ask(spec)
        result = await workflow.execute_activity(
            "resolve_case", CaseOutcomeInput(inp.case_id, answer, workflow.now()), result_type=CaseResult, **ACTIVITY)
        self._severity = result.severity
        self._set_stage(result.status)
        return result

    def _set_stage(self, stage: str) -> None:
        self._stage = stage
        workflow.upsert_search_attributes([STAGE.value_set(stage)])

    @workflow.query
    def progress(self) -> dict:
        return {"stage": self._stage, "severity": self._severity}


@workflow.defn
class DiversionSweepWorkflow:
    @workflow.run
    async def run(self, inp: DiversionSweepInput) -> DiversionSweepResult:
        result = await workflow.execute_activity(
            "sweep_diversion", DiversionSweepInput(inp.now or workflow.now()), result_type=DiversionSweepResult,
            **SWEEP)
        for case in result.cases:
            try:
                await workflow.start_child_workflow(
                    CaseWorkflow.run, CaseInput(case.case_id), id=workflow_id_for(case.case_id),
                    parent_close_policy=ParentClosePolicy.ABANDON,
                    id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                    search_attributes=case_search_attributes(case))
            except WorkflowAlreadyStartedError:  # the API started it, or it has run
                pass
        return result

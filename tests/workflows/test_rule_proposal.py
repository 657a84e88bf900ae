"""The rule proposal workflow with activity doubles: the second person's answer is applied once; the
proposer is refused by the task itself (four eyes); a cancelled task ends the proposal's workflow."""
from __future__ import annotations

import uuid

import pytest
from temporalio import activity
from temporalio.client import WorkflowUpdateFailedError

from dealerflow.contracts import CompleteTaskInput, DecideProposalInput, RuleProposalInput
from workflows import HumanTaskWorkflow, RuleProposalWorkflow

from .doubles import Recorder, spec, task_activities


def decide_double(rec: Recorder):
    @activity.defn(name="decide_rule_proposal")
    async def decide_rule_proposal(inp: DecideProposalInput) -> str:
        rec.add("decide_rule_proposal", inp)
        return {"approve": "approved", "reject": "rejected"}[inp.result.outcome]
    return decide_rule_proposal


@pytest.mark.parametrize("outcome,status", [("approve", "approved"), ("reject", "rejected")])
def test_the_second_person_answers_and_the_answer_is_applied_once(wf, outcome, status):
    rec = Recorder()
    proposal_id = str(uuid.uuid4())
    review = spec(str(uuid.uuid4()), kind="rule_proposal", subject_type="rule_proposal", subject_id=proposal_id,
                  assignee_role="admin", not_by=["alice"], escalate_to=None)

    async def scenario():
        async with wf.worker(*task_activities(rec), decide_double(rec)) as tq:
            with wf.env.with_time_skipping_disabled():
                handle = await wf.client.start_workflow(RuleProposalWorkflow.run, RuleProposalInput(proposal_id, review),
                                                        id=f"rule-proposal-{proposal_id}", task_queue=tq)
            await rec.wait_for("open_task")
            task = wf.client.get_workflow_handle(f"task-{review.task_id}")
            with pytest.raises(WorkflowUpdateFailedError):  # the proposer may not answer
                await task.execute_update(HumanTaskWorkflow.complete, CompleteTaskInput(review.task_id, "approve", "alice"))
            await task.execute_update(HumanTaskWorkflow.complete,
                                      CompleteTaskInput(review.task_id, outcome, "bob", "looked at the replay"))
            return await handle.result()

    assert wf.run(scenario()) == status
    [applied] = rec.args("decide_rule_proposal")
    assert (applied.proposal_id, applied.result.outcome, applied.result.actor) == (proposal_id, outcome, "bob")

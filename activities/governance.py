"""Rule governance side effects: apply a second person's answer to a rule proposal; the proposal
sweep's look for lost workflow starts."""
from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.contracts import DecideProposalInput, ProposalSweepInput, ProposalSweepResult, RuleProposalInput
from dealerflow.governance import proposals

# The API starts a proposal's workflow right after its commit; the sweep starts only those it missed.
LOST_AFTER = timedelta(minutes=1)


class GovernanceActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def decide_rule_proposal(self, inp: DecideProposalInput) -> str:
        with self.sessions.begin() as session:
            return proposals.apply_answer(session, inp.proposal_id, inp.result)

    @activity.defn
    def unstarted_proposals(self, inp: ProposalSweepInput) -> ProposalSweepResult:
        with self.sessions() as session:
            return ProposalSweepResult([RuleProposalInput(str(p.id), spec) for p, spec in
                                        proposals.unstarted(session, queued_before=inp.now - LOST_AFTER)])

    @activity.defn
    def proposals_started(self, proposal_ids: list[str]) -> int:
        with self.sessions.begin() as session:
            proposals.started(session, [uuid.UUID(i) for i in proposal_ids])
        return len(proposal_ids)

    def all(self) -> list:
        return [self.decide_rule_proposal, self.unstarted_proposals, self.proposals_started]

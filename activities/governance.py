"""Rule governance side effects: apply a second person's answer to a rule proposal."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.contracts import DecideProposalInput
from dealerflow.governance import proposals


class GovernanceActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def decide_rule_proposal(self, inp: DecideProposalInput) -> str:
        with self.sessions.begin() as session:
            return proposals.apply_answer(session, inp.proposal_id, inp.result)

    def all(self) -> list:
        return [self.decide_rule_proposal]

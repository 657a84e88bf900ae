"""Master data's side of a workflow: applying the answer to a credit limit raise."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.contracts import LimitChangeOutcomeInput
from dealerflow.masterdata import credit_limits


class MasterDataActivities:
    def __init__(self, sessions: sessionmaker[Session]):
        self.sessions = sessions

    @activity.defn
    def apply_limit_change(self, inp: LimitChangeOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return credit_limits.apply(session, inp)

    def all(self) -> list:
        return [self.apply_limit_change]

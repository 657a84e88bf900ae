"""Policy rollout side effects: targets, delivery batches, chasing sweeps, pilot verdicts,
amendments, closing; evidence reviews; notifications to external channels."""
from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker
from temporalio import activity

from dealerflow.shared import notifications
from dealerflow.policies import rollout as policies, tasks as policy_tasks
from dealerflow.contracts import (AmendApplied, CloseInput, CloseResult, DeliverInput, EvidenceOutcomeInput,
                                  PilotInput, PilotVerdict, PolicyStatusInput, RolloutInput, RolloutPlan, SweepInput, SweepResult,
                                  TaskSpec)
from dealerflow.shared.notifications import Channel


class PolicyActivities:
    def __init__(self, sessions: sessionmaker[Session], channels: list[Channel]):
        self.sessions, self.channels = sessions, channels

    @activity.defn
    def begin_rollout(self, inp: RolloutInput) -> RolloutPlan:
        with self.sessions.begin() as session:
            return policies.begin_rollout(session, policy_id=inp.policy_id, version=inp.version, actor=inp.actor,
                                          now=activity.info().scheduled_time)

    @activity.defn
    def deliver_batch(self, inp: DeliverInput) -> int:
        with self.sessions.begin() as session:
            return policies.deliver_batch(session, inp)

    @activity.defn
    def sweep(self, inp: SweepInput) -> SweepResult:
        with self.sessions.begin() as session:
            return policies.sweep(session, inp)

    @activity.defn
    def set_policy_status(self, inp: PolicyStatusInput) -> None:
        with self.sessions.begin() as session:
            policies.set_status(session, inp.policy_id, inp.value)

    @activity.defn
    def pilot_verdict(self, inp: PilotInput) -> PilotVerdict:
        with self.sessions.begin() as session:
            return policies.pilot_verdict(session, inp)

    @activity.defn
    def pilot_task(self, inp: PilotInput) -> TaskSpec:
        with self.sessions.begin() as session:
            return policies.pilot_task(session, inp)

    @activity.defn
    def record_pilot_outcome(self, inp: PolicyStatusInput) -> None:
        with self.sessions.begin() as session:
            policies.record_pilot_outcome(session, inp.policy_id, inp.value)

    @activity.defn
    def amend_policy(self, inp: AmendApplied) -> RolloutPlan:
        with self.sessions.begin() as session:
            return policies.amend(session, inp)

    @activity.defn
    def close_policy(self, inp: CloseInput) -> CloseResult:
        with self.sessions.begin() as session:
            return policies.close(session, inp)

    @activity.defn
    def apply_evidence_review(self, inp: EvidenceOutcomeInput) -> str:
        with self.sessions.begin() as session:
            return policy_tasks.apply_review(session, inp)

    @activity.defn
    def send_notifications(self) -> int:
        """Feed unsent notifications to the external channels, batch by batch."""
        sent = 0
        while True:
            with self.sessions.begin() as session:
                n = notifications.send_pending(session, self.channels)
            sent += n
            if n == 0:
                return sent
            activity.heartbeat(sent)

    def all(self) -> list:
        return [self.begin_rollout, self.deliver_batch, self.sweep, self.set_policy_status, self.pilot_verdict,
                self.pilot_task, self.record_pilot_outcome, self.amend_policy, self.close_policy,
                self.apply_evidence_review, self.send_notifications]

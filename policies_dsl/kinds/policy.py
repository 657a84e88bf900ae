"""Policy files (`kind: policy`): the schema of the `policy:` section; the section checked beyond its
schema and turned into a PolicySpec, plus the rules derived from it: targeting over dealer facts and
the pilot's promotion criteria, which the engine evaluates like any other rule file. A test expects
`targeted`, and may name the winning `rule`."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..compiler import checked_condition
from ..conditions import ConditionError
from ..durations import parse_duration
from ..errors import RuleError
from ..expectations import expected_rule
from ..loader import Document
from ..model import Rule, RuleFile, facts_of
from .fragments import DATE, DEALER_FACTS, DURATION, TIER_BENEFIT_FACTS, ROLE, SHARE
from .plugin import KindPlugin, decided

ACCOUNT_MANAGER = "account_manager"  # escalation target: each silent dealer's own account manager

# Figures of a pilot, read by `pilot.promote_when`.
PILOT_FACTS = {
    "pilot.dealers": {"type": "int", "description": "dealers in the pilot"},
    "pilot.acknowledgment_rate": {"type": "decimal", "description": "share of pilot dealers who acknowledged, 0 to 1"},
    "pilot.conversion_rate": {"type": "decimal", "description": "share of pilot dealers who ordered since delivery, 0 to 1"},
    "pilot.task_acceptance_rate": {"type": "decimal", "description": "share of pilot task assignments accepted, 0 to 1"},
}

EVIDENCE_TYPES = ["photo", "video", "document", "figures"]

POLICY_SECTION = {
    "description": "A policy published to the dealers its `target` selects.",
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "category", "body", "effective", "target"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "category": {"enum": ["promotion", "subsidy", "new_product", "training", "other"]},
        "body": {"type": "string", "minLength": 1, "description": "Markdown shown to dealers"},
        "effective": {
            "type": "object", "additionalProperties": False, "required": ["from", "to"],
            "properties": {"from": DATE, "to": DATE},
        },
        "target": {"type": "string", "minLength": 1,
                   "description": "A condition over dealer facts: who receives the policy"},
        "pilot": {
            "description": "Deliver first to a region-balanced share of the targets; then promote by the"
                           " figures (`promote_when`) or by an HQ decision (`decided_by`).",
            "type": "object", "additionalProperties": False, "required": ["share", "duration"],
            "properties": {
                "share": SHARE,
                "duration": DURATION,
                "promote_when": {"type": "string", "minLength": 1},
                "decided_by": {"type": "object", "additionalProperties": False, "required": ["role", "sla"],
                               "properties": {"role": ROLE, "sla": DURATION}},
            },
        },
        "acknowledgment": {
            "type": "object", "additionalProperties": False, "required": ["required"],
            "properties": {
                "required": {"type": "boolean"},
                "deadline": DURATION,
                "reminders": {"type": "array", "items": DURATION,
                              "description": "offsets from delivery at which silent dealers are reminded"},
                "escalate": {
                    "type": "array",
                    "description": "offsets from delivery at which silent dealers are escalated: first to"
                                   " their account manager, then to a role",
                    "items": {"type": "object", "additionalProperties": False, "required": ["after", "to"],
                              "properties": {"after": DURATION, "to": ROLE}},
                },
            },
        },
        "tasks": {
            "type": "array",
            "items": {
                "type": "object", "additionalProperties": False,
                "required": ["key", "title", "due", "evidence", "reviewer", "points"],
                "properties": {
                    "key": {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]*$"},
                    "title": {"type": "string", "minLength": 1, "maxLength": 200},
                    "instructions": {"type": "string"},
                    "due": DURATION,
                    "remind_before": DURATION,
                    "evidence": {"type": "array", "minItems": 1, "items": {"enum": EVIDENCE_TYPES}},
                    "reviewer": ROLE,
                    "review_sla": DURATION,
                    "points": {"type": "integer", "minimum": 0},
                },
            },
        },
    },
}



@dataclass(frozen=True)
class Escalation:
    after_seconds: int
    to: str  # "account_manager" or a role


@dataclass(frozen=True)
class Acknowledgment:
    required: bool
    deadline_seconds: int | None
    reminders: tuple  # offsets in seconds from delivery
    escalations: tuple  # Escalation, by offset


@dataclass(frozen=True)
class Pilot:
    share: Decimal  # 0 < share < 1
    duration_seconds: int
    promote: RuleFile | None  # rules over PILOT_FACTS, or None when HQ decides
    decided_by: str | None
    decision_sla_seconds: int | None


@dataclass(frozen=True)
class PolicyTask:
    key: str
    title: str
    instructions: str
    due_seconds: int
    remind_before_seconds: int | None
    evidence: tuple
    reviewer: str
    review_sla_seconds: int
    points: int


@dataclass(frozen=True)
class PolicySpec:
    id: str
    title: str
    category: str
    body: str
    effective_from: date
    effective_to: date
    target: str
    pilot: Pilot | None
    acknowledgment: Acknowledgment
    tasks: tuple

    def task(self, key: str) -> PolicyTask | None:
        return next((t for t in self.tasks if t.key == key), None)


def _seconds(text: str | None) -> int | None:
    return None if text is None else int(parse_duration(text).total_seconds())


def parse_policy(doc: Document, facts: dict, errors: list[RuleError]) -> tuple[PolicySpec | None, tuple, dict]:
    """The PolicySpec, the derived targeting rules and their default; problems go to `errors`."""
    data, name = doc.data["policy"], doc.data["ruleset"]
    p = ("policy",)
    start_errors = len(errors)

    def condition(path, text, known):
        try:
            return checked_condition(text, known)
        except ConditionError as e:
            errors.append(doc.error(path, str(e)))

    effective = {}
    for key in ("from", "to"):
        try:
            effective[key] = date.fromisoformat(data["effective"][key])
        except ValueError:
            errors.append(doc.error(p + ("effective", key), f"{data['effective'][key]!r} is not a date"))
    if len(effective) == 2 and effective["to"] < effective["from"]:
        errors.append(doc.error(p + ("effective", "to"), "the window ends before it starts"))

    target = condition(p + ("target",), data["target"], facts)
    rules = (Rule("targeted", data["target"], {"targeted": True}, 0, doc.line(p + ("target",)), target,
                  "the policy's target"),) if target is not None else ()

    pilot = None
    if "pilot" in data:
        raw = data["pilot"]
        share = Decimal(raw["share"][:-1]) / 100
        if not 0 < share < 1:
            errors.append(doc.error(p + ("pilot", "share"), "a pilot takes more than 0% and less than 100% of the targets"))
        if ("promote_when" in raw) == ("decided_by" in raw):
            errors.append(doc.error(p + ("pilot",), "give either promote_when (promote by the figures) or"
                                                     " decided_by (an HQ decision), not both or neither"))
        promote = None
        if "promote_when" in raw:
            pilot_facts = facts_of(PILOT_FACTS)
            when = condition(p + ("pilot", "promote_when"), raw["promote_when"], pilot_facts)
            if when is not None:
                promote = RuleFile(
                    file=doc.file, name=f"{name}__pilot", kind="policy_pilot", description="pilot promotion",
                    facts=pilot_facts, rules=(Rule("promote", raw["promote_when"], {"promote": True}, 0,
                                                   doc.line(p + ("pilot", "promote_when")), when),),
                    default={"promote": False}, tests=(), source=raw["promote_when"],
                    sha256=hashlib.sha256(f"{name}:{raw['promote_when']}".encode()).hexdigest())
        decided = raw.get("decided_by", {})
        pilot = Pilot(share, _seconds(raw["duration"]), promote, decided.get("role"), _seconds(decided.get("sla")))

    raw_ack = data.get("acknowledgment", {"required": False})
    deadline = _seconds(raw_ack.get("deadline"))
    if raw_ack["required"] and deadline is None:
        errors.append(doc.error(p + ("acknowledgment",), "a required acknowledgment needs a deadline"))
    reminders = [_seconds(r) for r in raw_ack.get("reminders", [])]
    for i, offset in enumerate(reminders):
        if deadline is not None and offset >= deadline:
            errors.append(doc.error(p + ("acknowledgment", "reminders", i), "a reminder must come before the deadline"))
    if reminders != sorted(set(reminders)):
        errors.append(doc.error(p + ("acknowledgment", "reminders"), "reminders must be in increasing order"))
    escalations = [Escalation(_seconds(e["after"]), e["to"]) for e in raw_ack.get("escalate", [])]
    offsets = [e.after_seconds for e in escalations]
    if offsets != sorted(set(offsets)):
        errors.append(doc.error(p + ("acknowledgment", "escalate"), "escalations must be in increasing order of `after`"))
    if (reminders or escalations) and not raw_ack["required"]:
        errors.append(doc.error(p + ("acknowledgment",), "reminders and escalations need required: true"))

    tasks, keys = [], {}
    for i, raw in enumerate(data.get("tasks", [])):
        if raw["key"] in keys:
            errors.append(doc.error(p + ("tasks", i, "key"), f"duplicate task key '{raw['key']}' (also on line {keys[raw['key']]})"))
        keys.setdefault(raw["key"], doc.line(p + ("tasks", i, "key")))
        due, before = _seconds(raw["due"]), _seconds(raw.get("remind_before"))
        if before is not None and before >= due:
            errors.append(doc.error(p + ("tasks", i, "remind_before"), "the reminder must come after delivery, before the due time"))
        if len(set(raw["evidence"])) != len(raw["evidence"]):
            errors.append(doc.error(p + ("tasks", i, "evidence"), "an evidence type is listed twice"))
        tasks.append(PolicyTask(raw["key"], raw["title"], raw.get("instructions", ""), due, before,
                                tuple(raw["evidence"]), raw["reviewer"], _seconds(raw.get("review_sla", "2d")),
                                raw["points"]))
    if len(errors) > start_errors:
        return None, rules, {"targeted": False}
    spec = PolicySpec(name, data["title"], data["category"], data["body"], effective["from"], effective["to"],
                      data["target"], pilot, Acknowledgment(raw_ack["required"], deadline, tuple(reminders),
                                                            tuple(escalations)), tuple(tasks))
    return spec, rules, {"targeted": False}


PLUGIN = KindPlugin(
    name="policy",
    description="A policy: content, targeting, pilot, acknowledgment and tasks.",
    outcome={"type": "object", "properties": {"targeted": {"type": "boolean"}}},
    parse=parse_policy,
    expectation=lambda doc, path, expect, errors, rules: expected_rule(doc, path, expect, errors,
                                                                       [r.name for r in rules]),
    run=decided,
    section="policy",
    section_schema=POLICY_SECTION,
    facts={**DEALER_FACTS, **TIER_BENEFIT_FACTS},
)

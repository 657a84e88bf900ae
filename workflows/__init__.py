"""Temporal workflows: deterministic orchestration only. No I/O, clocks or randomness here:
every side effect is an activity (see activities/)."""
from .human_task import HumanTaskWorkflow
from .order import OrderWorkflow

ALL_WORKFLOWS = [OrderWorkflow, HumanTaskWorkflow]

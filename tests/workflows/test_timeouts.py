"""`workflow.wait_condition(timeout=...)` raises `asyncio.TimeoutError`. On Python 3.11+ that is the
built-in `TimeoutError`, but on 3.10 (which pyproject allows) it is a different class: a workflow
catching the built-in one there crashes instead of escalating or chasing. The suite runs on one
Python, so this reads the workflows' source: every handler around a wait with a timeout must name
`asyncio.TimeoutError`. (The SLA, chase and confirmation-window tests show the waits time out.)"""
from __future__ import annotations

import ast
from pathlib import Path

import workflows

SOURCES = sorted(Path(workflows.__file__).parent.glob("*.py"))


def _is_timed_wait(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "wait_condition"
            and any(k.arg == "timeout" for k in node.keywords))


def _names(handler: ast.ExceptHandler) -> list[str]:
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return [ast.unparse(t) for t in types if t is not None]


def timed_waits() -> list[tuple[str, int, list[list[str]]]]:
    """(file, line, the exception names of each handler of the enclosing try) per timed wait."""
    found = []
    for path in SOURCES:
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Try):
                continue
            for wait in (n for stmt in node.body for n in ast.walk(stmt) if _is_timed_wait(n)):
                found.append((path.name, wait.lineno, [_names(h) for h in node.handlers]))
    return found


def test_every_timed_wait_in_the_workflows_catches_asyncio_timeout_error():
    waits = timed_waits()
    # human_task (the SLA), policy_rollout (chasing), settlement (the confirmation window) at least.
    assert {f for f, _, _ in waits} >= {"human_task.py", "policy_rollout.py", "settlement.py"}, waits
    wrong = [(f, line, handlers) for f, line, handlers in waits
             if not any("asyncio.TimeoutError" in names for names in handlers)
             or any("TimeoutError" in names for names in handlers)]
    assert not wrong, f"catch asyncio.TimeoutError (not the built-in TimeoutError) around: {wrong}"


def test_no_timed_wait_goes_unguarded():
    """A timed wait outside any try would fail the workflow task when the time is up."""
    guarded = {(f, line) for f, line, _ in timed_waits()}
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text())):
            if _is_timed_wait(node):
                assert (path.name, node.lineno) in guarded, f"{path.name}:{node.lineno}"

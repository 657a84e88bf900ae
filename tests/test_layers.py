"""The layers of ARCHITECTURE.md hold: import-linter checks the contracts in pyproject.toml."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is a dev dependency: pip install -e '.[dev]'"
    run = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_only_contracts_pass_through_the_workflow_sandbox():
    from launcher.worker import RUNNER
    assert RUNNER.restrictions.passthrough_modules - type(RUNNER.restrictions).default.passthrough_modules \
        == {"dealerflow.contracts"}

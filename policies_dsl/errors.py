"""Errors that name the file, the line and the path inside the document."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RuleError:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.path}: {self.message}"


class RuleFileError(ValueError):
    """A rule file that must not become active; `errors` lists every problem found, by line."""

    def __init__(self, errors: list[RuleError]):
        self.errors = sorted(errors, key=lambda e: (e.line, e.path))
        super().__init__("\n".join(map(str, self.errors)))


class FactError(ValueError):
    """Facts handed to a decision that do not match what the rule file declares."""


def did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""

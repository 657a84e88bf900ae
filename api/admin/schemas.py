"""Request and response shapes of logins and rule files."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class UserRead(BaseModel):
    """Who the caller is (GET /me)."""
    username: str
    role: str
    dealer_code: str | None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class RuleVersionRead(BaseModel):
    ruleset: str
    version: int
    kind: str
    sha256: str
    filename: str
    deployed_by: str
    deployed_at: datetime


class RuleDeployResult(BaseModel):
    ruleset: str
    version: int
    changed: bool


class RuleValidation(BaseModel):
    ruleset: str
    valid: bool
    rules: int
    tests: int

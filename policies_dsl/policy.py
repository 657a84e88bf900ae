"""Kept so that `policies_dsl.policy` imports keep working: the policy kind lives in kinds/policy.py."""
from .kinds.policy import *  # noqa: F401,F403

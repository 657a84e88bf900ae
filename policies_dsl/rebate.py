"""Kept so that `policies_dsl.rebate` imports keep working: the rebate kind lives in kinds/rebate.py."""
from .kinds.rebate import *  # noqa: F401,F403

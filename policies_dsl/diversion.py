"""Kept so that `policies_dsl.diversion` imports keep working: the diversion kind lives in kinds/diversion.py."""
from .kinds.diversion import *  # noqa: F401,F403

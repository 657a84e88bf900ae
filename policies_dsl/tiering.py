"""Kept so that `policies_dsl.tiering` imports keep working: the tiering kind lives in kinds/tiering.py."""
from .kinds.tiering import *  # noqa: F401,F403

"""Every kind's replayer, registered on import with `@replayer(kind)` (dealerflow/governance/replay.py).
A new kind of rule file adds its module here."""
from . import credit_approval, diversion, policy, rebate, tiering  # noqa: F401

"""Every kind's replayer, registered on import with `@replayer(kind)` (dealerflow/governance/replay.py).
A new kind of rule file adds its module here."""
from . import allocation, credit_approval, credit_score, diversion, inventory, policy, rebate, service, tiering  # noqa: F401

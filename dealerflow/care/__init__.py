"""Dealer care: birthday and cooperation-anniversary greetings with the service file's offers, the
account manager told the day before, and contact tasks by the tier's cadence."""

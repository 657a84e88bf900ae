"""Credit that follows payment behaviour: ledger figures, the credit scorecard, the monthly run."""

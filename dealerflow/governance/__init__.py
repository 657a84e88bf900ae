"""Rule governance: what-if replay of a candidate rule file over stored decisions, its stored impact
report, effective dates, shadow versions and the four-eyes proposal that deploys a rule file."""

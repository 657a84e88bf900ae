"""Dealer service: requests (诉求) answered within the tier's SLA on China's working calendar,
satisfaction on closure, and the reports of both."""

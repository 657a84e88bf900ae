"""The console's page of scheduled processes and the notification outbox."""

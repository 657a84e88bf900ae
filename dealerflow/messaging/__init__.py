"""HQ's announcements to the dealers a condition selects, and each dealer's conversation with its
account manager and HQ, with unread counts."""

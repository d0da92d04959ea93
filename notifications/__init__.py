"""Notification delivery from the outbox (email, webhooks, inbox); built with the notifications issue."""

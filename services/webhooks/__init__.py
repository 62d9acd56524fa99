"""Webhooks to RRC systems (DESIGN D6): endpoint commands, the outbox, the dispatcher."""

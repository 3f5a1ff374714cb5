"""Operators: prefecture and municipal staff who write, approve, cancel and correct messages."""

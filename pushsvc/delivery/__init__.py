"""Durable Web Push fan-out: notifications, recipient batches leased by workers, and their outcomes."""

"""Webhook notifications: outbox, deadlines, signed delivery with retries, API."""

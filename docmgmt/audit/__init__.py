"""Audit: mandates that let an auditor read an agency, trails of events, and replay.

Each step is a module-level function taking the event store and the principal; the
read-only queries across the store are ``trails.AuditQueries`` (asyncpg).
"""

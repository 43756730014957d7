"""Văn bản đi: the outgoing document from draft to sealed copy, its views and queries."""

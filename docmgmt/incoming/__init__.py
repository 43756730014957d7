"""Văn bản đến: delivery, registration, assignment and handling; registers and views."""

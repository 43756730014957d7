"""Văn bản đi: drafting, approval, signing, numbering, sealing and sending."""

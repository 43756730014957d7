"""Page tests without a browser."""

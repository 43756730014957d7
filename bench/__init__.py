"""Hand-run benchmarks: they print figures and assert nothing about timing (see README.md)."""

"""Demo data and scenarios."""

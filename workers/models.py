"""Models of the workers app (filled in by later issues)."""

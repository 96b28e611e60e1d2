"""Models of the qualification app (filled in by later issues)."""

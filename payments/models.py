"""Models of the payments app (filled in by later issues)."""

"""Tasks of the qualification app."""

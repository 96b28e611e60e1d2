"""Admin of the qualification app."""

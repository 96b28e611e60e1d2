"""Admin of the workers app."""

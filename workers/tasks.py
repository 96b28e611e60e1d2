"""Tasks of the workers app."""

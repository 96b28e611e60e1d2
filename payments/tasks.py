"""Tasks of the payments app."""

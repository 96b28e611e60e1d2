"""Services of the workers app."""

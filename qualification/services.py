"""Services of the qualification app."""

"""Api of the qualification app."""

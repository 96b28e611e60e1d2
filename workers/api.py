"""Api of the workers app."""

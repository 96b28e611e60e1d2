"""Api of the payments app."""

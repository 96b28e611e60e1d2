"""Services of the payments app."""

"""Selectors of the payments app."""

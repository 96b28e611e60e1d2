"""Selectors of the qualification app."""

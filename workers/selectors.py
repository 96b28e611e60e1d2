"""Selectors of the workers app."""

"""Qualification types, tests, attempts, grants, and gold-standard grading."""

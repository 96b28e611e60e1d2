"""Writes of the qualification app, by topic: `qualifications` (defining tests), `attempts` (taking them) and
`grants` (who holds what, by test or by hand). Every state change goes through these functions."""

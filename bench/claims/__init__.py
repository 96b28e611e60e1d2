"""The claims benchmark, run as `python -m bench.claims` (see __main__.py for what it measures and its options)."""

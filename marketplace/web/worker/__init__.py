"""Pages for workers (see `marketplace.web`)."""

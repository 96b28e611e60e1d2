"""Pages for staff (see `marketplace.web`)."""

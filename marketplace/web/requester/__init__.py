"""Pages for requesters (see `marketplace.web`)."""

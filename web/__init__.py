"""The HTTP API (and later the pages), built by an app factory from the composition root's wiring."""

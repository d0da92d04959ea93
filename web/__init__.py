"""HTTP API and pages; built with the API and pages issues."""

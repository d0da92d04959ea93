"""The composition root: settings, bootstrap, the CLI."""

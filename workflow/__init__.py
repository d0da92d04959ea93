"""Persistence, the unit of work and the services that change issues."""

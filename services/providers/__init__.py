"""The providers service."""

"""Shared page pieces."""

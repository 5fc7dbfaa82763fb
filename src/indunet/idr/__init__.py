"""Identifier resolution: the hierarchical identifier system, Handle-protocol compatible."""

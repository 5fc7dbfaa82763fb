"""Foundations every pillar uses: configuration, errors, identifiers, time, messages."""

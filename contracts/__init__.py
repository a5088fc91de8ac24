"""What crosses the Temporal boundary: models, queue names, error types, search attributes.

Deterministic and free of I/O, so workflows import it through the sandbox unchanged.
"""

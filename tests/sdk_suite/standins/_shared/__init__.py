"""The suite's shared test helpers (``_shared.utils``)."""

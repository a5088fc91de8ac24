"""How a stdlib log record carries fields of its own (workflows log through the stdlib)."""

__all__ = ["LOG_FIELDS_EXTRA"]

LOG_FIELDS_EXTRA = "numberflow_fields"
"""The ``extra`` key of a record's own fields: ``logger.info(..., extra={LOG_FIELDS_EXTRA:
{"step": ...}})``. ``workflow.logger`` has no structlog binding; ``logconfig`` renders these
as fields of the line rather than words of its text."""

"""structlog set up once per process: console on a terminal, JSON otherwise.

stdlib loggers (Temporal's ``workflow.logger`` and ``activity.logger``, httpx, uvicorn) render
through the same processors, so every line has one shape and one set of protections:

* tracebacks never carry frame locals (they held webhook secrets and activity inputs) and are
  bounded in frames;
* phone numbers are masked (``+1425***4756``) in every line at INFO and above, whatever logger
  wrote it and wherever the number sits (message, field, URL, exception text).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from structlog.tracebacks import ExceptionDictTransformer

__all__ = ["build_formatter", "configure_logging", "mask_phone_numbers"]

MAX_TRACEBACK_FRAMES = 12
"""Enough to see where an error came from; a failure log stays a few KB, not tens."""

_PHONE_NUMBER = re.compile(r"(\+|%2[Bb])([1-9]\d{6,14})")
"""An E.164 number as written in text or URL-encoded in a path (``%2B1425…``)."""
_MASKED_LEVELS = frozenset({"info", "warning", "warn", "error", "critical", "exception"})


def mask_phone_numbers(text: str) -> str:
    """Keep a number's sign, first four and last four digits: ``+1425***4756``."""

    def mask(match: re.Match[str]) -> str:
        digits = match.group(2)
        keep = 4 if len(digits) > 8 else 2
        return f"{match.group(1)}{digits[:keep]}***{digits[-keep:]}"

    return _PHONE_NUMBER.sub(mask, text)


def _masking(renderer: structlog.types.Processor) -> structlog.types.Processor:
    """Render, then mask numbers in the finished line unless it is a DEBUG line."""

    def render(logger: Any, name: str, event_dict: structlog.types.EventDict) -> Any:
        level = str(event_dict.get("level", "info")).lower()
        line = renderer(logger, name, event_dict)
        if level in _MASKED_LEVELS and isinstance(line, str):
            return mask_phone_numbers(line)
        return line

    return render


def _common_processors() -> list[structlog.types.Processor]:
    """What every line gets, from structlog or from a stdlib logger."""
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]


def build_formatter(*, json: bool) -> logging.Formatter:
    """The one formatter every handler of ours uses (also the tests' log scanner)."""
    if json:
        renderer: structlog.types.Processor = structlog.processors.JSONRenderer()
        exceptions: list[structlog.types.Processor] = [
            structlog.processors.ExceptionRenderer(
                ExceptionDictTransformer(show_locals=False, max_frames=MAX_TRACEBACK_FRAMES)
            )
        ]
    else:
        # The plain traceback: rich's default renders frame locals and boxes of source code.
        renderer = structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
        exceptions = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_common_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exceptions,
            _masking(renderer),
        ],
    )


def configure_logging(
    level: str = "INFO", *, json: bool | None = None, stream: TextIO | None = None
) -> None:
    """Configure structlog and the stdlib root logger (stderr unless ``stream`` is given)."""
    use_json = (not sys.stderr.isatty()) if json is None else json
    structlog.configure(
        processors=[
            *_common_processors(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=use_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())

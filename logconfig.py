"""structlog set up once per process: console on a terminal, JSON otherwise.

stdlib loggers (Temporal's ``workflow.logger`` and ``activity.logger``, httpx, uvicorn) render
through the same processors, so every line has one shape and one set of protections:

* tracebacks never carry frame locals (they held webhook secrets and activity inputs) and are
  bounded in frames;
* phone numbers are masked (``+1425***4756``) in every line at INFO and above, whatever logger
  wrote it and wherever the number sits (message, field, URL, exception text);
* a line written inside a traced span carries its ``trace_id`` and ``span_id``, so a log line
  leads to its trace and back.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any, TextIO

import structlog
from opentelemetry import trace
from structlog.tracebacks import ExceptionDictTransformer
from temporalio import activity, workflow
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from contracts.ids import ticket_id_of
from contracts.log_fields import LOG_FIELDS_EXTRA

__all__ = [
    "LOG_LEVELS",
    "LOG_LEVEL_VAR",
    "LogContextInterceptor",
    "build_formatter",
    "configure_logging",
    "mask_phone_numbers",
    "parse_log_level",
]

LOG_LEVEL_VAR = "NUMBERFLOW_LOG_LEVEL"
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
"""What ``NUMBERFLOW_LOG_LEVEL`` may say, in any case."""

MAX_TRACEBACK_FRAMES = 12
"""Enough to see where an error came from; a failure log stays a few KB, not tens."""

_PHONE_NUMBER = re.compile(r"(\+|%2[Bb])([1-9]\d{6,14})")
"""An E.164 number as written in text or URL-encoded in a path (``%2B1425…``)."""
_MASKED_LEVELS = frozenset({"info", "warning", "warn", "error", "critical", "exception"})


def parse_log_level(value: str) -> str:
    """The level's canonical name, or ``ValueError`` listing the ones allowed."""
    level = value.strip().lower()
    if level not in LOG_LEVELS:
        raise ValueError(f"must be one of {', '.join(LOG_LEVELS)}")
    return level


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


def _temporal_fields(
    _logger: Any, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Fields, not text: the workflow, run, ticket and activity of a Temporal SDK record.

    ``workflow.logger`` and ``activity.logger`` put them in the record's ``temporal_workflow``
    or ``temporal_activity`` extra; the ticket is read back from the workflow id.
    """
    record = event_dict.get("_record")
    workflow_info = getattr(record, "temporal_workflow", None)
    activity_info = getattr(record, "temporal_activity", None)
    if isinstance(workflow_info, dict):
        event_dict.setdefault("workflow_id", workflow_info.get("workflow_id"))
        event_dict.setdefault("run_id", workflow_info.get("run_id"))
        event_dict.setdefault("workflow_type", workflow_info.get("workflow_type"))
        event_dict.setdefault("task_queue", workflow_info.get("task_queue"))
        event_dict.setdefault("attempt", workflow_info.get("attempt"))
    if isinstance(activity_info, dict):
        event_dict.setdefault("workflow_id", activity_info.get("workflow_id"))
        event_dict.setdefault("run_id", activity_info.get("workflow_run_id"))
        event_dict.setdefault("activity", activity_info.get("activity_type"))
        event_dict.setdefault("activity_id", activity_info.get("activity_id"))
        event_dict.setdefault("task_queue", activity_info.get("task_queue"))
        event_dict.setdefault("attempt", activity_info.get("attempt"))
    fields = getattr(record, LOG_FIELDS_EXTRA, None)
    if isinstance(fields, dict):
        for name, value in fields.items():
            event_dict.setdefault(name, value)
    workflow_id = event_dict.get("workflow_id")
    if isinstance(workflow_id, str):
        ticket = ticket_id_of(workflow_id)
        if ticket is not None:
            event_dict.setdefault("ticket_id", ticket)
    return event_dict


def _trace_ids(
    _logger: Any, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    """The current span's trace and span ids (nothing while tracing is off)."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(context.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(context.span_id))
    return event_dict


class LogContextInterceptor(Interceptor):
    """Binds the activity's workflow, run, ticket and type to every log line it causes.

    httpx's request lines and our own inside an activity then carry the same fields as the
    SDK's ``activity.logger`` records (structlog's context variables follow the task).
    """

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        """Wrap each activity execution in the binding."""
        return _BindActivity(next)


class _BindActivity(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        fields = {
            "workflow_id": info.workflow_id,
            "run_id": info.workflow_run_id,
            "activity": info.activity_type,
            "attempt": info.attempt,
        }
        ticket = ticket_id_of(info.workflow_id or "")
        if ticket is not None:
            fields["ticket_id"] = ticket
        with structlog.contextvars.bound_contextvars(**fields):
            return await super().execute_activity(input)


def _common_processors() -> list[structlog.types.Processor]:
    """What every line gets, from structlog or from a stdlib logger."""
    return [
        structlog.contextvars.merge_contextvars,
        _temporal_fields,
        _trace_ids,
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
    # The workflow and activity details become fields (above), not a dict pasted in the text.
    workflow.logger.workflow_info_on_message = False
    activity.logger.activity_info_on_message = False
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=use_json))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    canonical = parse_log_level(level)
    root.setLevel(canonical.upper())
    # One line per HTTP request cost a worker ~9% of its CPU; metrics and spans count them.
    logging.getLogger("httpx").setLevel(logging.DEBUG if canonical == "debug" else logging.WARNING)

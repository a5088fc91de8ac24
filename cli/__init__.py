"""The operator's command line, ``numberflow``."""

from ._app import app, main

__all__ = ["app", "main"]

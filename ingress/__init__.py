"""The webhook ingress: signed ticket events in, workflow starts/updates/cancels out."""

from ._app import create_app

__all__ = ["create_app"]

"""The security tests drive the ingress too."""

from tests.ingress.conftest import ingress

__all__ = ["ingress"]

"""``PhoneNumbersTestCase``: the suite's base class, reading the resource's connection string."""

from __future__ import annotations

import os

from devtools_testutils import AzureRecordedTestCase

__all__ = ["PhoneNumbersTestCase"]


class PhoneNumbersTestCase(AzureRecordedTestCase):
    """Sets ``connection_str`` from the static resource (numbers) or the dynamic one (SIP)."""

    connection_str: str

    def setUp(self, use_dynamic_resource: bool = False) -> None:  # noqa: N802 - the suite's name
        kind = "DYNAMIC" if use_dynamic_resource else "STATIC"
        self.connection_str = os.environ[f"COMMUNICATION_LIVETEST_{kind}_CONNECTION_STRING"]

"""The project's data converter: pydantic payloads, encrypted when keys are configured."""

from __future__ import annotations

import dataclasses

from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import DataConverter, DefaultFailureConverterWithEncodedAttributes

from ._encryption import EncryptionCodec
from ._keys import PayloadKeys

__all__ = ["data_converter"]


def data_converter(keys: PayloadKeys | None) -> DataConverter:
    """The converter every client, worker and replayer of numberflow uses.

    With keys, failure messages and stack traces move into an encoded payload too: an
    activity's error text (an ACS message naming a number) is as private as its input.
    """
    if keys is None:
        return pydantic_data_converter
    return dataclasses.replace(
        pydantic_data_converter,
        payload_codec=EncryptionCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )

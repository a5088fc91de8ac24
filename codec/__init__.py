"""Payload encryption for Temporal histories: keys, the AES-GCM codec, the codec server."""

from ._converter import data_converter
from ._encryption import ENCODING, EncryptionCodec, PayloadDecryptionError
from ._keys import ENV_VAR, PayloadKeys, new_key_entry
from ._server import TOKENS_ENV_VAR, create_codec_app

__all__ = [
    "ENCODING",
    "ENV_VAR",
    "TOKENS_ENV_VAR",
    "EncryptionCodec",
    "PayloadDecryptionError",
    "PayloadKeys",
    "create_codec_app",
    "data_converter",
    "new_key_entry",
]

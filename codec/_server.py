"""The codec server: the Temporal Web UI's ``/encode`` and ``/decode`` protocol.

With payloads encrypted, the Web UI shows ciphertext; pointed at this server (the UI's codec
endpoint setting, or ``--ui-codec-endpoint`` of the dev server) it shows the decoded values
to whoever the server lets in: a bearer token from ``NUMBERFLOW_CODEC_TOKENS``, checked in
constant time, from the browser origin of the Web UI only (CORS).
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import json_format
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.api.common.v1 import Payloads
from temporalio.converter import PayloadCodec

from contracts.signing import bearer_token_matches

from ._encryption import PayloadDecryptionError

__all__ = ["TOKENS_ENV_VAR", "create_codec_app"]

TOKENS_ENV_VAR = "NUMBERFLOW_CODEC_TOKENS"
MAX_BODY_BYTES = 4 * 1024 * 1024
"""A UI page decodes one history's payloads at a time; nothing legitimate is larger."""


def create_codec_app(
    codec: PayloadCodec, *, tokens: Sequence[str], ui_origins: Sequence[str]
) -> Starlette:
    """The ASGI app; with no tokens every request is let in (loopback use only, see the CLI)."""

    async def transform(request: Request) -> Response:
        if tokens and not bearer_token_matches(request.headers.get("authorization"), tokens):
            return JSONResponse({"error": "a valid bearer token is required"}, status_code=401)
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return JSONResponse({"error": "body too large"}, status_code=413)
        payloads = Payloads()
        try:
            json_format.Parse(body, payloads)
        except json_format.ParseError:
            return JSONResponse({"error": "body is not a Payloads JSON document"}, 400)
        try:
            if request.url.path.endswith("/encode"):
                result = await codec.encode(payloads.payloads)
            else:
                result = await codec.decode(payloads.payloads)
        except PayloadDecryptionError as error:
            return JSONResponse({"error": str(error)}, status_code=422)
        return Response(
            json_format.MessageToJson(Payloads(payloads=result)), media_type="application/json"
        )

    return Starlette(
        routes=[
            Route("/encode", transform, methods=["POST"]),
            Route("/decode", transform, methods=["POST"]),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=list(ui_origins),
                allow_methods=["POST"],
                allow_headers=["Authorization", "Content-Type", "X-Namespace"],
                allow_credentials=True,
            )
        ],
    )

"""Finding 8: with ``NUMBERFLOW_PAYLOAD_KEYS`` histories hold ciphertext, the saga and replay
still work, keys rotate, and the Web UI reads histories through the codec server."""

from __future__ import annotations

import json

import httpx
import pytest
from google.protobuf import json_format
from temporalio.api.common.v1 import Payload, Payloads
from temporalio.api.failure.v1 import Failure
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.worker import Replayer

from codec import (
    ENCODING,
    EncryptionCodec,
    PayloadDecryptionError,
    PayloadKeys,
    create_codec_app,
    data_converter,
    new_key_entry,
)
from contracts.provision import ProvisionRequest, Stage
from tests.world import CONVERTER, Saga, base_request
from workflows import WORKFLOWS

OLD, NEW = new_key_entry("2025-old"), new_key_entry("2026-new")
AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


def _keys(*entries: str) -> PayloadKeys:
    keys = PayloadKeys.parse(",".join(entries))
    assert keys is not None
    return keys


def _plain(text: str) -> Payload:
    return Payload(metadata={"encoding": b"json/plain"}, data=text.encode())


async def test_rotation_encrypts_with_the_first_key_and_reads_with_any() -> None:
    (sealed,) = await EncryptionCodec(_keys(OLD)).encode([_plain('"+14255554756"')])
    assert sealed.metadata["encoding"] == ENCODING and b"4255554756" not in sealed.data
    rotated = EncryptionCodec(_keys(NEW, OLD))
    assert (await rotated.decode([sealed]))[0] == _plain('"+14255554756"')
    (resealed,) = await rotated.encode([_plain("1")])
    assert resealed.metadata["encryption-key-id"] == b"2026-new"
    with pytest.raises(PayloadDecryptionError, match="2025-old"):
        await EncryptionCodec(_keys(NEW)).decode([sealed])


async def test_tampering_and_plain_payloads() -> None:
    codec = EncryptionCodec(_keys(OLD))
    (sealed,) = await codec.encode([_plain("1")])
    # one bit of the tag flipped (a constant last byte would leave it as it was 1 time in 256)
    flipped = bytes([sealed.data[-1] ^ 0x01])
    tampered = Payload(metadata=dict(sealed.metadata), data=sealed.data[:-1] + flipped)
    with pytest.raises(PayloadDecryptionError):
        await codec.decode([tampered])
    assert await codec.decode([_plain("2")]) == [_plain("2")]  # histories from before


@pytest.mark.parametrize(
    "entries", ["k1", "k1:not-base64!", "k1:AAAA", f"{OLD},{OLD}", "bad id:" + OLD.split(":")[1]]
)
def test_malformed_keys_are_refused_without_quoting_them(entries: str) -> None:
    with pytest.raises(ValueError) as refused:
        PayloadKeys.parse(entries)
    assert OLD.split(":")[1] not in str(refused.value)


async def test_a_saga_history_is_ciphertext_and_replays_only_with_the_key(dev_saga: Saga) -> None:
    saga = dev_saga
    request = base_request(callback_url=None, approval=AUTO)
    handle = await saga.start(request)
    result = await handle.result()
    assert result.outcome is Stage.COMPLETED and sorted(saga.owned()) == sorted(result.numbers)
    history = await handle.fetch_history()
    text = history.to_json()
    for number in result.numbers:
        assert number not in text and number.lstrip("+") not in text
    assert request.ticket_id in text  # ids and search attributes stay readable, by design
    started = history.events[0].workflow_execution_started_event_attributes
    (payload,) = started.input.payloads
    assert payload.metadata["encoding"] == ENCODING
    with pytest.raises(Exception):  # noqa: B017, PT011 - any refusal: it is not JSON
        pydantic_data_converter.payload_converter.from_payload(payload, ProvisionRequest)
    (decoded,) = await CONVERTER.decode([payload], [ProvisionRequest])
    assert decoded == request

    with_key = await Replayer(workflows=WORKFLOWS, data_converter=CONVERTER).replay_workflow(
        history, raise_on_replay_failure=False
    )
    assert with_key.replay_failure is None
    without = await Replayer(
        workflows=WORKFLOWS, data_converter=pydantic_data_converter
    ).replay_workflow(WorkflowHistory.from_json(handle.id, text), raise_on_replay_failure=False)
    assert without.replay_failure is not None


async def test_failure_messages_are_encrypted_too() -> None:
    """An activity's error text (ACS naming a number) is as private as its input."""
    converter = data_converter(_keys(OLD))
    failure = Failure()
    await converter.encode_failure(ApplicationError("number +14255554756 is busy"), failure)
    assert "4255554756" not in json_format.MessageToJson(failure)
    decoded = await converter.decode_failure(failure)
    assert "+14255554756" in str(decoded)


async def test_the_codec_server_decodes_for_the_web_ui_with_a_token() -> None:
    codec = EncryptionCodec(_keys(NEW, OLD))
    (sealed,) = await EncryptionCodec(_keys(OLD)).encode([_plain('"secret-ish"')])
    app = create_codec_app(codec, tokens=["ui-token-1"], ui_origins=["http://127.0.0.1:8233"])
    body = json_format.MessageToJson(Payloads(payloads=[sealed]))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://codec.test"
    ) as http:
        refused = await http.post("/decode", content=body)
        assert refused.status_code == 401
        wrong = await http.post("/decode", content=body, headers={"Authorization": "Bearer x"})
        assert wrong.status_code == 401
        decoded = await http.post(
            "/decode",
            content=body,
            headers={"Authorization": "Bearer ui-token-1", "X-Namespace": "default"},
        )
        assert decoded.status_code == 200
        (plain,) = json_format.Parse(decoded.text, Payloads()).payloads
        assert plain.data == b'"secret-ish"'
        encoded = await http.post(
            "/encode", content=decoded.text, headers={"Authorization": "Bearer ui-token-1"}
        )
        (again,) = json_format.Parse(encoded.text, Payloads()).payloads
        assert again.metadata["encryption-key-id"] == b"2026-new"
        preflight = await http.options(
            "/decode",
            headers={
                "Origin": "http://127.0.0.1:8233",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,x-namespace,content-type",
            },
        )
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8233"
        other = await http.options(
            "/decode",
            headers={"Origin": "https://evil.test", "Access-Control-Request-Method": "POST"},
        )
        assert "access-control-allow-origin" not in other.headers
        assert json.loads((await http.post("/decode", content=b"{")).text)["error"]

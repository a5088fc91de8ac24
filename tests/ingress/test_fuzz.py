"""Property-based fuzz of the ingress, driven by its own OpenAPI document: no 5xx, no crash."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_jsonschema import from_schema

from contracts.signing import SIGNATURE_HEADER, sign
from ingress import create_app
from tests.ingress_world import SECRET, Ingress


def _event_schema() -> dict[str, Any]:
    """The webhook body schema from the served OpenAPI document, made standalone."""
    document = create_app(client=object(), secrets=["x"]).openapi()  # type: ignore[arg-type]
    components = document["components"]["schemas"]
    text = json.dumps({**components["TicketEvent"], "$defs": components})
    schema: dict[str, Any] = json.loads(text.replace("#/components/schemas/", "#/$defs/"))
    return schema


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
BODIES = st.one_of(
    from_schema(_event_schema()).map(lambda v: json.dumps(v).encode()),
    JSON.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
)
HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
SIGNATURES = st.one_of(
    st.just("sign"),
    st.none(),
    HEADER_TEXT,
    st.builds(lambda t: f"t={t},v1=00", st.integers()),
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES, signature=SIGNATURES, ticket=st.text(max_size=80))
async def test_no_5xx_from_any_input(
    ingress: Ingress, body: bytes, signature: str | None, ticket: str
) -> None:
    """Whatever arrives (valid events, junk JSON, bytes, odd headers), the answer is never 5xx."""
    headers = {"Content-Type": "application/json"}
    if signature == "sign":
        headers[SIGNATURE_HEADER] = sign(SECRET, body, int(time.time()))
    elif signature is not None:
        headers[SIGNATURE_HEADER] = signature
    response = await ingress.http.post("/webhooks/tickets", content=body, headers=headers)
    assert response.status_code < 500, response.text
    assert set(response.json()) >= ({"error"} if response.status_code >= 400 else {"workflow_id"})
    status = await ingress.http.get("/provisionings/" + quote(ticket, safe=""))
    assert status.status_code < 500, status.text

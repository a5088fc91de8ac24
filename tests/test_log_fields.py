"""Logs are fields, not text: every record of one saga carries its ticket, workflow and run."""

from __future__ import annotations

import io
import json
import logging

from contracts.provision import Intervention, InterventionKind, Stage
from logconfig import build_formatter
from provisioning import intervene
from tests.world import Saga, base_request

AUTO = {"mode": "auto_under_cost", "auto_approve_below": "100"}


async def test_every_record_of_a_saga_names_its_ticket_workflow_and_run(saga: Saga) -> None:
    """Rendered as production renders them: by a handler, at the moment they are logged."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=True))
    logging.getLogger().addHandler(handler)
    # httpx writes its request lines only at debug in production; here they stand for any
    # foreign logger written to inside an activity
    client_logger = logging.getLogger("httpx")
    client_level = client_logger.level
    client_logger.setLevel(logging.INFO)
    try:
        request = base_request(approval=AUTO)
        handle = await saga.start(request)
        assert (await handle.result()).outcome is Stage.COMPLETED
    finally:
        logging.getLogger().removeHandler(handler)
        client_logger.setLevel(client_level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    ours = [line for line in lines if line.get("workflow_id") == handle.id]
    assert {"temporalio.workflow", "httpx"} <= {line["logger"] for line in ours}
    for line in ours:
        assert line["ticket_id"] == request.ticket_id, line
        assert line["run_id"] == handle.result_run_id, line
        assert "{'" not in line["event"], "the SDK's details are pasted into the message"
    assert all(line.get("activity") for line in ours if line["logger"] == "httpx")
    workflow_lines = [line for line in lines if line["logger"] == "temporalio.workflow"]
    assert workflow_lines and all(line.get("workflow_id") for line in workflow_lines)


async def test_needs_attention_is_logged_entering_and_leaving_with_step_and_code(
    saga: Saga,
) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(build_formatter(json=True))
    logging.getLogger().addHandler(handler)
    try:
        request = base_request(
            approval=AUTO, routing={"trunks": [{"fqdn": "sbc.unverified.net", "port": 5061}]}
        )
        handle = await saga.start(request)
        await saga.wait_stage(handle, Stage.NEEDS_ATTENTION)
        sent = await intervene(
            saga.client,
            request.ticket_id,
            Intervention(action=InterventionKind.SKIP, by="ops", reason="no SBC yet"),
        )
        assert sent.applied
        assert (await handle.result()).outcome is Stage.COMPLETED_WITH_SKIPS
    finally:
        logging.getLogger().removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    attention = [
        line
        for line in lines
        if line.get("workflow_id") == handle.id and line.get("step") == "routing"
    ]
    assert [(line["error_code"], line.get("action")) for line in attention] == [
        ("MissingDomain", None),
        ("MissingDomain", "skip"),
    ]
    assert all(line["ticket_id"] == request.ticket_id for line in attention)
    assert len(saga.owned()) == 2 and saga.routes() == []

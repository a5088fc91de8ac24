"""Activities that talk to the quota keeper of the resource (a workflow) through the client.

A saga asks before each ACS request that spends the tenant's limits; the keeper answers it by
signal (``contracts.quota``). With no limit configured and no keeper running (it starts the
first time ACS refuses for a limit), the ask is answered here at once: nothing to wait for.
"""

from __future__ import annotations

from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from contracts.ids import QUOTA_KEEPER_WORKFLOW_TYPE
from contracts.quota import (
    QUOTA_ASK_SIGNAL,
    QUOTA_WITHDRAW_SIGNAL,
    QuotaAsk,
    QuotaKeeperInput,
    QuotaLimits,
    QuotaRequest,
    QuotaWithdrawal,
    quota_keeper_id,
)

__all__ = ["QuotaActivities"]


class QuotaActivities:
    """Asks and withdrawals, sent to the keeper of one ACS resource."""

    def __init__(self, client: Client, endpoint: str, task_queue: str, limits: QuotaLimits):
        self._client = client
        self._resource = endpoint
        self._workflow_id = quota_keeper_id(endpoint)
        self._task_queue = task_queue
        self._limits = limits

    @activity.defn
    async def ask_quota(self, request: QuotaRequest) -> bool:
        """Queue the ask with the keeper (starting it if need be); ``False``: no need to wait.

        A retried attempt sends the same ask id, which the keeper queues once.
        """
        if not self._limits.limited and request.refused is None and not await self._running():
            return False
        await self._client.start_workflow(
            QUOTA_KEEPER_WORKFLOW_TYPE,
            QuotaKeeperInput(resource=self._resource, limits=self._limits),
            id=self._workflow_id,
            task_queue=self._task_queue,
            start_signal=QUOTA_ASK_SIGNAL,
            start_signal_args=[
                QuotaAsk(request=request, saga_id=activity.info().workflow_id, limits=self._limits)
            ],
        )
        return True

    @activity.defn
    async def withdraw_quota(self, withdrawal: QuotaWithdrawal) -> None:
        """Take an ask back (the saga will not spend it); a keeper that is gone has none."""
        try:
            await self._client.get_workflow_handle(self._workflow_id).signal(
                QUOTA_WITHDRAW_SIGNAL, withdrawal
            )
        except RPCError as error:
            if error.status is not RPCStatusCode.NOT_FOUND:
                raise

    async def _running(self) -> bool:
        try:
            keeper = await self._client.get_workflow_handle(self._workflow_id).describe()
        except RPCError as error:
            if error.status is RPCStatusCode.NOT_FOUND:
                return False
            raise
        return keeper.status is WorkflowExecutionStatus.RUNNING

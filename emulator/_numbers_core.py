"""The Phone Numbers state machine's core: the resource's state, and time moving through it.

Time only moves through :meth:`NumbersCore.settle`, called before every request: it applies, in
time order, everything that became due (operations finishing, holds expiring).
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from ._catalogue import Catalogue
from ._config import EmulatorConfig
from ._inventory import build_numbers
from ._limits import PURCHASES, LimitBook
from ._operations import LroFault, Operation, lro_reply
from ._records import (
    Purchased,
    Reservation,
    ReservationStatus,
    ReservedStatus,
    Search,
    SearchState,
)
from ._reply import Reply

__all__ = ["NumbersCore"]


class NumbersCore:
    """The state one emulated resource's Phone Numbers API works on."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._rng = random.Random(config.seed)
        self.inventory = build_numbers(config.seed, config.numbers_per_area_code)
        self.holds: dict[str, str] = {}
        self.purchased: dict[str, Purchased] = {}
        self.searches: dict[str, Search] = {}
        self.reservations: dict[str, Reservation] = {}
        self.operations: dict[str, Operation] = {}
        self._releasing: dict[str, str] = {}
        self.purchase_posts: Counter[str] = Counter()
        """Purchase POSTs that reached the service, per hold (reservation or search id)."""
        self.purchase_log: list[tuple[str, str]] = []
        self.release_log: list[str] = []
        """Every number released, in order (ports and special orders included)."""
        """Every number bought, with the hold that bought it (``portal`` when bought outside)."""
        self._updating: dict[str, str] = {}
        self.catalogue = Catalogue(self.inventory)
        self.limits = LimitBook(config.limits)
        self.quarantined: dict[str, datetime] = {}
        """Released numbers and when they may be offered again ("cannot be immediately
        acquired", as the SDK's tracker reports of the service)."""

    # -- time ----------------------------------------------------------------------------------

    def settle(self, now: datetime) -> None:
        """Apply everything due by ``now``, earliest first (operations before expiries)."""
        for number in [n for n, until in self.quarantined.items() if until <= now]:
            del self.quarantined[number]
        for _, _, item in sorted(self._due(now), key=lambda e: (e[0], e[1])):
            if isinstance(item, Operation):
                item.finish()
            elif isinstance(item, Search):
                self._expire_search(item)
            else:
                self._expire_reservation(item)

    def _due(self, now: datetime) -> list[tuple[datetime, int, Operation | Search | Reservation]]:
        events: list[tuple[datetime, int, Operation | Search | Reservation]] = []
        events += [
            (op.due, 0, op) for op in self.operations.values() if not op.finished and op.due <= now
        ]
        events += [
            (s.expires_at, 1, s)
            for s in self.searches.values()
            if s.state is SearchState.HELD and s.expires_at <= now
        ]
        events += [
            (r.expires_at, 1, r)
            for r in self.reservations.values()
            if r.status is ReservationStatus.ACTIVE and r.expires_at <= now
        ]
        return events

    def _expire_search(self, search: Search) -> None:
        if search.state is SearchState.HELD:  # an earlier event of this settle may have moved it
            self._release_holds(f"search:{search.id}")
            search.state = SearchState.EXPIRED

    def _expire_reservation(self, reservation: Reservation) -> None:
        if reservation.status is not ReservationStatus.ACTIVE:
            return
        self._release_holds(f"reservation:{reservation.id}")
        reservation.status = ReservationStatus.EXPIRED
        for reserved in reservation.numbers.values():
            if reserved.status is ReservedStatus.RESERVED:
                reserved.status = ReservedStatus.EXPIRED

    # -- internals -----------------------------------------------------------------------------

    def _new_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def _start(
        self,
        op_id: str,
        kind: str,
        now: datetime,
        resource_location: str | None,
        succeed: Any,
        fail: Any,
        fault: LroFault,
    ) -> Operation:
        op = Operation(
            op_id,
            kind,
            now,
            timedelta(seconds=self._config.lro_seconds),
            resource_location,
            succeed,
            fail,
            fault,
        )
        self.operations[op_id] = op
        return op

    def _purchase_posted(
        self, hold_id: str, op_id: str, started: bool, api_version: str, now: datetime
    ) -> Reply | None:
        """Count a purchase POST; a hold already being bought answers with that operation.

        A new purchase spends the tenant's purchase limit (refused at the limit); a repeat of
        one under way is the same purchase and spends nothing.
        """
        self.purchase_posts[hold_id] += 1
        if started and op_id in self.operations:
            return lro_reply(self.operations[op_id], api_version, hold_id)
        self.limits.spend(PURCHASES, now)
        return None

    def _is_available(self, phone_number: str) -> bool:
        return (
            phone_number not in self.holds
            and phone_number not in self.purchased
            and phone_number not in self.quarantined
        )

    def _release_holds(self, holder: str) -> None:
        for number in [n for n, h in self.holds.items() if h == holder]:
            del self.holds[number]

    def _buy(
        self,
        phone_number: str,
        assignment: str,
        calling: str,
        sms: str,
        at: datetime,
        hold: str,
    ) -> None:
        number = self.inventory[phone_number]
        offering = self.catalogue.country(number.country_code).offering(
            number.phone_number_type, assignment
        )
        assert offering is not None, "checked when the hold was made"
        self.holds.pop(phone_number, None)
        self.purchased[phone_number] = Purchased(number, assignment, calling, sms, offering, at)
        self.purchase_log.append((phone_number, hold))

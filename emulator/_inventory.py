"""The emulator's catalogue: countries, localities, area codes, offerings and numbers.

Everything is derived from the seed, so two emulators with the same seed offer the same numbers.
Prices and the capability combinations are plausible values, not the service's price list.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from decimal import Decimal

__all__ = [
    "CAPABILITY_ORDER",
    "COUNTRIES",
    "Country",
    "InventoryNumber",
    "Locality",
    "Offering",
    "build_numbers",
    "capability_allows",
]

# "none" < "inbound" / "outbound" < "inbound+outbound"; an offering's capability is the most
# a number of that kind may have, and any direction it contains is allowed.
CAPABILITY_ORDER = {
    "none": frozenset(),
    "inbound": frozenset({"in"}),
    "outbound": frozenset({"out"}),
    "inbound+outbound": frozenset({"in", "out"}),
}


def capability_allows(available: str, wanted: str) -> bool:
    """Whether ``wanted`` is within what ``available`` permits."""
    return CAPABILITY_ORDER[wanted] <= CAPABILITY_ORDER[available]


@dataclass(frozen=True)
class Locality:
    """A city with its area codes (some have no administrative division: Dublin's mobiles)."""

    name: str
    division: str | None
    division_abbreviation: str | None
    area_codes: tuple[str, ...]


@dataclass(frozen=True)
class Offering:
    """What can be bought: type, assignment, the most capabilities allowed, the monthly price."""

    phone_number_type: str
    assignment_type: str
    calling: str
    sms: str
    amount: Decimal
    currency: str | None = None
    """Where the service quotes in another currency than the country's (FR toll-free: USD)."""


@dataclass(frozen=True)
class Country:
    """A country's catalogue."""

    code: str
    name: str
    dial_code: str
    national_length: int
    currency: str
    localities: tuple[Locality, ...]
    toll_free_prefixes: tuple[str, ...]
    mobile_prefixes: tuple[str, ...]
    offerings: tuple[Offering, ...]
    no_resell_types: frozenset[str] = frozenset()
    mobile_localities: tuple[Locality, ...] = ()
    """Where mobile numbers are listed by locality (IE: Dublin, area code 1)."""

    def offering(self, phone_number_type: str, assignment_type: str) -> Offering | None:
        """The offering for a type and assignment, if sold here."""
        for offering in self.offerings:
            if (offering.phone_number_type, offering.assignment_type) == (
                phone_number_type,
                assignment_type,
            ):
                return offering
        return None


@dataclass(frozen=True)
class InventoryNumber:
    """One number the emulator can sell."""

    phone_number: str
    country_code: str
    phone_number_type: str
    area_code: str
    locality: str | None

    @property
    def id(self) -> str:
        """The service's number id: the digits without ``+``."""
        return self.phone_number[1:]


def _offer(
    kind: str, assignment: str, calling: str, sms: str, amount: str, currency: str | None = None
) -> Offering:
    return Offering(kind, assignment, calling, sms, Decimal(amount), currency)


_IO = "inbound+outbound"

COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        "United States",
        "1",
        10,
        "USD",
        (
            Locality("Seattle", "Washington", "WA", ("206", "425")),
            Locality("New York", "New York", "NY", ("212", "646")),
            Locality("Austin", "Texas", "TX", ("512",)),
        ),
        ("800", "833", "844", "855"),
        (),
        (
            _offer("geographic", "person", _IO, "none", "1.00"),
            _offer("geographic", "application", _IO, "none", "1.00"),
            _offer("tollFree", "person", _IO, _IO, "2.00"),
            _offer("tollFree", "application", _IO, _IO, "2.00"),
        ),
    ),
    Country(
        "CA",
        "Canada",
        "1",
        10,
        "CAD",
        (
            Locality("Toronto", "Ontario", "ON", ("416", "647")),
            Locality("Vancouver", "British Columbia", "BC", ("604",)),
        ),
        ("800", "888"),
        (),
        (
            _offer("geographic", "person", _IO, "none", "1.40"),
            _offer("geographic", "application", _IO, "none", "1.40"),
            _offer("tollFree", "application", _IO, _IO, "2.75"),
        ),
    ),
    Country(
        "GB",
        "United Kingdom",
        "44",
        10,
        "GBP",
        (
            Locality("London", "England", "ENG", ("20",)),
            Locality("Manchester", "England", "ENG", ("161",)),
            Locality("Edinburgh", "Scotland", "SCT", ("131",)),
        ),
        ("800",),
        ("7",),
        (
            _offer("geographic", "person", _IO, "none", "1.00"),
            _offer("geographic", "application", _IO, "none", "1.00"),
            _offer("tollFree", "application", "inbound", "none", "12.00"),
            _offer("mobile", "person", _IO, _IO, "3.50"),
        ),
    ),
    Country(
        "FR",
        "France",
        "33",
        9,
        "EUR",
        (
            Locality("Paris", "Île-de-France", "IDF", ("1",)),
            Locality("Lyon", "Auvergne-Rhône-Alpes", "ARA", ("4",)),
        ),
        ("800",),
        (),
        (
            _offer("geographic", "application", _IO, "none", "1.25"),
            # recorded: browse offers inbound+outbound calling without SMS at 8.00 USD a month,
            # a search for outbound only succeeds, and the purchase needs agreeToNotResell
            _offer("tollFree", "application", _IO, "none", "8.00", "USD"),
        ),
        frozenset({"tollFree"}),
    ),
    Country(
        "IE",
        "Ireland",
        "353",
        9,
        "USD",
        (),
        (),
        ("1",),
        # recorded: mobile numbers listed under locality Dublin (no division), area code 1,
        # SMS without calling, 6.50 USD a month
        (_offer("mobile", "application", "none", _IO, "6.50"),),
        mobile_localities=(Locality("Dublin", None, None, ("1",)),),
    ),
    Country(
        "DE",
        "Germany",
        "49",
        10,
        "EUR",
        (
            Locality("Berlin", "Berlin", "BE", ("30",)),
            Locality("Munich", "Bavaria", "BY", ("89",)),
        ),
        ("800",),
        (),
        (
            _offer("geographic", "person", _IO, "none", "1.10"),
            _offer("geographic", "application", _IO, "none", "1.10"),
            _offer("tollFree", "application", "inbound", "none", "16.00"),
        ),
    ),
    Country(
        "DK",
        "Denmark",
        "45",
        8,
        "DKK",
        (Locality("Copenhagen", "Capital Region", "84", ("3",)),),
        ("80",),
        ("2",),
        (
            _offer("geographic", "application", _IO, "none", "8.00"),
            _offer("tollFree", "application", "inbound", "none", "85.00"),
            _offer("mobile", "person", _IO, _IO, "25.00"),
        ),
    ),
    Country(
        "AU",
        "Australia",
        "61",
        9,
        "AUD",
        (
            Locality("Sydney", "New South Wales", "NSW", ("2",)),
            Locality("Melbourne", "Victoria", "VIC", ("3",)),
        ),
        ("1800",),
        ("4",),
        (
            _offer("geographic", "application", _IO, "none", "2.00"),
            _offer("tollFree", "application", "inbound", "none", "20.00"),
            _offer("mobile", "person", _IO, _IO, "6.00"),
        ),
    ),
)


def build_numbers(seed: int, per_area_code: int) -> dict[str, InventoryNumber]:
    """Generate the inventory: ``per_area_code`` distinct numbers for every prefix."""
    rng = random.Random(seed)
    numbers: dict[str, InventoryNumber] = {}
    for country in COUNTRIES:
        prefixes: list[tuple[str, str, str | None]] = [
            ("geographic", code, loc.name) for loc in country.localities for code in loc.area_codes
        ]
        prefixes += [("tollFree", code, None) for code in country.toll_free_prefixes]
        mobile_locality = {
            code: loc.name for loc in country.mobile_localities for code in loc.area_codes
        }
        prefixes += [
            ("mobile", code, mobile_locality.get(code)) for code in country.mobile_prefixes
        ]
        for kind, prefix, locality in prefixes:
            made = 0
            while made < per_area_code:
                rest = country.national_length - len(prefix)
                subscriber = str(rng.randint(2, 9)) + "".join(
                    str(rng.randint(0, 9)) for _ in range(rest - 1)
                )
                number = f"+{country.dial_code}{prefix}{subscriber}"
                if number in numbers:
                    continue
                numbers[number] = InventoryNumber(number, country.code, kind, prefix, locality)
                made += 1
    return numbers

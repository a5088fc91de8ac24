"""Paging follows nextLink, relative or absolute, and keeps the link's own query."""

from __future__ import annotations

import httpx

from acs import PhoneNumbersClient


async def test_absolute_next_link_is_followed_with_api_version_reset() -> None:
    """An absolute nextLink is fetched as given, with this client's api-version."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if "token=abc" in str(request.url):
            return httpx.Response(
                200, json={"countries": [{"localizedName": "B", "countryCode": "BB"}]}
            )
        return httpx.Response(
            200,
            json={
                "countries": [{"localizedName": "A", "countryCode": "AA"}],
                "nextLink": "http://other.test/availablePhoneNumbers/countries?token=abc&api-version=1999-01-01",
            },
        )

    client = PhoneNumbersClient(
        "http://x.test", httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(handler)
    )
    assert [c.country_code async for c in client.list_available_countries()] == ["AA", "BB"]
    assert (
        seen[1]
        == "http://other.test/availablePhoneNumbers/countries?token=abc&api-version=2025-06-01"
    )


async def test_nothing_is_sent_until_iteration() -> None:
    """A pager is lazy, like the SDK's."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"phoneNumbers": []})

    client = PhoneNumbersClient(
        "http://x.test", httpx.BasicAuth("u", "p"), transport=httpx.MockTransport(handler)
    )
    pager = client.list_purchased_phone_numbers()
    assert sent == []
    assert await pager.to_list() == []
    assert len(sent) == 1

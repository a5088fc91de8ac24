"""SIP Routing API state: one direct-routing document per resource, patched atomically."""

from __future__ import annotations

import copy
import re
from typing import Any

from ._errors import ApiError, sip_config_error

__all__ = ["PREVIEW_VERSION", "SipState"]

PREVIEW_VERSION = "2024-11-15-preview"
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
_LIMIT = 250
_PREVIEW_TRUNK_FIELDS = ("enabled", "directTransfer", "privacyHeader", "ipAddressVersion")
_TRUNK_FIELDS = ("sipSignalingPort", *_PREVIEW_TRUNK_FIELDS)
_ROUTE_FIELDS = ("name", "description", "numberPattern", "trunks", "callerIdOverride")


def _is_fqdn(name: str) -> bool:
    labels = name.split(".")
    return 1 <= len(name) <= 249 and len(labels) >= 2 and all(_LABEL.match(x) for x in labels)


class SipState:
    """The trunks, routes and domains of one resource."""

    def __init__(self, verified_domains: tuple[str, ...]) -> None:
        self.domains: dict[str, dict[str, Any]] = {d: {"enabled": True} for d in verified_domains}
        self.trunks: dict[str, dict[str, Any]] = {}
        self.routes: list[dict[str, Any]] = []

    def get(self, api_version: str, *, expand: str | None = None) -> dict[str, Any]:
        """The document as the given API version shows it."""
        preview = api_version == PREVIEW_VERSION
        if expand is not None and (not preview or expand != "trunks/health"):
            raise ApiError(
                400, "InvalidInput", f"Unsupported expand value '{expand}'.", target="expand"
            )
        trunks = {}
        for fqdn, trunk in self.trunks.items():
            shown = {k: v for k, v in trunk.items() if preview or k not in _PREVIEW_TRUNK_FIELDS}
            if expand:
                shown["health"] = {
                    "tls": {"status": "unknown"},
                    "ping": {"status": "unknown"},
                    "overall": {"status": "inactive", "reason": "noRecentCallsAndPings"},
                }
            trunks[fqdn] = shown
        routes = [
            {k: v for k, v in r.items() if preview or k != "callerIdOverride"} for r in self.routes
        ]
        document: dict[str, Any] = {"trunks": trunks, "routes": routes}
        if preview:
            document["domains"] = copy.deepcopy(self.domains)
        return document

    def verify_domain(self, body: Any) -> dict[str, Any]:
        """Mark a domain verified and enabled, as the portal's DNS check would (admin API)."""
        name = body.get("domain") if isinstance(body, dict) else None
        if not isinstance(name, str) or not _is_fqdn(name):
            raise ApiError(400, "InvalidInput", 'Give {"domain": "example.net"}.')
        self.domains[name] = {"enabled": True}
        return {"domains": copy.deepcopy(self.domains)}

    def patch(self, body: Any, api_version: str) -> dict[str, Any]:
        """Merge-patch the document: all of it is validated before any of it is applied."""
        if not isinstance(body, dict):
            raise ApiError(400, "InvalidInput", "The body must be a JSON object.")
        preview = api_version == PREVIEW_VERSION
        domains = copy.deepcopy(self.domains)
        trunks = copy.deepcopy(self.trunks)
        routes = copy.deepcopy(self.routes)
        if preview and "domains" in body:
            _merge_map(domains, body["domains"], "domains", ("enabled",), self._check_domain)
        if "trunks" in body:
            fields = _TRUNK_FIELDS if preview else ("sipSignalingPort",)
            _merge_map(trunks, body["trunks"], "trunks", fields, None)
        if "routes" in body:
            routes = _routes(body["routes"], preview)
        _validate(domains, trunks, routes)
        self.domains, self.trunks, self.routes = domains, trunks, routes
        return self.get(api_version)

    def test_routes(self, target: str | None, body: Any) -> dict[str, Any]:
        """Which routes match a number, in order; against the body's routes if it has any."""
        if not target:
            raise ApiError(
                400, "InvalidInput", "targetPhoneNumber is required.", target="targetPhoneNumber"
            )
        routes = self.routes
        if isinstance(body, dict) and body.get("routes") is not None:
            routes = _routes(body["routes"], True)
        matching = []
        for route in routes:
            try:
                if re.match(route["numberPattern"], target):
                    matching.append(route)
            except re.error:
                continue
        return {"matchingRoutes": matching}

    @staticmethod
    def _check_domain(name: str) -> None:
        if not _is_fqdn(name):
            raise sip_config_error(
                "InvalidDomain", f"Domain '{name}' is not properly formatted domnain name."
            )


def _merge_map(
    target: dict[str, dict[str, Any]],
    patch: Any,
    name: str,
    fields: tuple[str, ...],
    check_key: Any,
) -> None:
    if not isinstance(patch, dict):
        raise ApiError(400, "InvalidInput", f"{name} must be a JSON object.", target=name)
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
            continue
        if not isinstance(value, dict):
            raise ApiError(
                400, "InvalidInput", f"{name}.{key} must be an object or null.", target=name
            )
        if check_key is not None:
            check_key(key)
        merged = {**target.get(key, {}), **{k: v for k, v in value.items() if k in fields}}
        for k in [k for k, v in value.items() if v is None and k in fields]:
            merged.pop(k, None)
        target[key] = merged


def _routes(value: Any, preview: bool) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ApiError(400, "InvalidInput", "routes must be an array.", target="routes")
    fields = _ROUTE_FIELDS if preview else _ROUTE_FIELDS[:-1]
    routes = []
    for item in value:
        if not isinstance(item, dict):
            raise ApiError(400, "InvalidInput", "each route must be an object.", target="routes")
        route = {k: item[k] for k in fields if item.get(k) is not None}
        route.setdefault("trunks", [])
        routes.append(route)
    return routes


def _domain_enabled(domains: dict[str, dict[str, Any]], fqdn: str) -> bool:
    return any(
        (fqdn == d or fqdn.endswith("." + d)) and v.get("enabled", True) for d, v in domains.items()
    )


def _validate(
    domains: dict[str, dict[str, Any]],
    trunks: dict[str, dict[str, Any]],
    routes: list[dict[str, Any]],
) -> None:
    if len(trunks) > _LIMIT:
        raise sip_config_error("TooManyTrunks", f"At most {_LIMIT} trunks are allowed.")
    if len(routes) > _LIMIT:
        raise sip_config_error("TooManyRoutes", f"At most {_LIMIT} routes are allowed.")
    for fqdn, trunk in trunks.items():
        if not _is_fqdn(fqdn):
            raise sip_config_error(
                "InvalidTrunkFqdn", f"Domain '{fqdn}' is not properly formatted domnain name."
            )
        port = trunk.get("sipSignalingPort")
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise sip_config_error(
                "InvalidTrunkSipSignalingPort", "Trunk with an invalid SIP signaling port."
            )
        if not _domain_enabled(domains, fqdn):
            raise sip_config_error("MissingDomain", "Missing Domain for coresponding Trunk")
    names: set[str] = set()
    for route in routes:
        name = route.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 256:
            raise sip_config_error("InvalidRouteName", "Route with an invalid name.")
        if len(str(route.get("description", ""))) > 1024:
            raise sip_config_error("InvalidRouteDescription", "Route with an invalid description.")
        pattern = route.get("numberPattern")
        if (
            not isinstance(pattern, str)
            or not pattern
            or len(pattern) > 1024
            or not _compiles(pattern)
        ):
            raise sip_config_error(
                "InvalidRouteNumberPattern", "Route with an invalid number pattern."
            )
        if name in names:
            raise sip_config_error("DuplicatedRoute", "There is a duplicated route.", status=400)
        names.add(name)
        route_trunks = route.get("trunks") or []
        if not isinstance(route_trunks, list) or len(route_trunks) > _LIMIT:
            raise sip_config_error("InvalidRouteTrunks", "Route with an invalid list of trunks.")
        if len(set(route_trunks)) != len(route_trunks):
            raise sip_config_error(
                "RouteWithDuplicatedTrunk", "Route with a duplicated trunk.", status=400
            )
        if any(t not in trunks for t in route_trunks):
            raise sip_config_error("MissingTrunk", "Route targeting a missing trunk.")


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True

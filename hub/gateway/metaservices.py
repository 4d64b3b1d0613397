"""X-Road metaservices: listClients, listMethods, allowedMethods, getOpenAPI.

They answer in X-Road's own JSON shapes so existing X-Road client code can read them.
"""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape, quoteattr

import orjson

from hub.core import errors
from hub.core.hints import did_you_mean
from hub.core.ids import PART
from hub.gateway import paths
from hub.gateway.forwarder import Answer, Forwarder
from hub.registry.cache import RegistryCache, ServiceEntry, Snapshot

JSON = "application/json"
XML = "text/xml; charset=utf-8"
OPENAPI_TTL_S = 60.0
PARAM = re.compile(r"\{[^/{}]*\}")
VARIABLE = re.compile(r"\{([^{}]*)\}")
# Accept's media ranges that ask for listClients' XML, as X-Road's security server reads them.
XML_TYPES = frozenset({"text/xml", "application/xml", "text/*"})


def _service_json(svc: ServiceEntry) -> dict[str, Any]:
    instance, member_class, member_code, subsystem_code, code = svc.id.split("/")
    return {
        "object_type": "SERVICE",
        "xroad_instance": instance,
        "member_class": member_class,
        "member_code": member_code,
        "subsystem_code": subsystem_code,
        "service_code": code,
        "service_type": svc.service_type,
        "endpoint_list": [{"method": e["method"], "path": e["path"]} for e in svc.endpoints],
    }


def list_clients(snap: Snapshot, instances: list[str] | None = None) -> dict[str, Any]:
    """Members and subsystems; ``instances``: the ``xRoadInstance`` query values (PR-META 2:
    the clients of that instance, none for an instance the hub does not hold)."""
    wanted = None
    if instances:
        if len(instances) > 1:
            raise errors.BadRequest("listClients takes one xRoadInstance; send one per instance")
        if not PART.fullmatch(instances[0]):
            raise errors.BadRequest(
                f"xRoadInstance {instances[0][:60]!r} is not an instance code: use letters, "
                "digits, '-', '_' or '.', e.g. ?xRoadInstance=VN"
            )
        wanted = instances[0]
    out: list[dict[str, Any]] = []
    for member_id, name in sorted(snap.members.items()):
        instance, member_class, member_code = member_id.split("/")
        if wanted is not None and instance != wanted:
            continue
        ident = {
            "object_type": "MEMBER",
            "xroad_instance": instance,
            "member_class": member_class,
            "member_code": member_code,
        }
        out.append({"id": ident, "name": name})
        for sub_id, (sub_name, _url, _enabled) in sorted(snap.subsystems.items()):
            if sub_id.rsplit("/", 1)[0] == member_id:
                sub_ident = {
                    **ident,
                    "object_type": "SUBSYSTEM",
                    "subsystem_code": sub_id.rsplit("/", 1)[1],
                }
                out.append({"id": sub_ident, "name": name, "subsystem_name": sub_name})
    return {"member": out}


def prefers_xml(accept: str | None) -> bool:
    """Whether an ``Accept`` header prefers listClients' XML (PR-META 2) to its JSON.

    X-Road answers XML unless JSON is asked for; the hub answers JSON, the product spec's
    shape, unless XML is asked for over it (``text/xml``, ``application/xml``, ``text/*``,
    at a higher ``q`` than ``application/json``, ``application/*`` or ``*/*``).
    """
    if not accept:
        return False
    xml = json = 0.0
    for item in accept.split(","):
        media, *params = item.split(";")
        media = media.strip().lower()
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if media in XML_TYPES:
            xml = max(xml, q)
        elif media in ("application/json", "application/*", "*/*"):
            json = max(json, q)
    return xml > json


def client_list_xml(body: dict[str, Any]) -> bytes:
    """listClients' answer as PR-META's ``clientList`` element (its Annex A and C.1)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>',
        '<ns2:clientList xmlns:ns1="http://x-road.eu/xsd/identifiers" '
        'xmlns:ns2="http://x-road.eu/xsd/xroad.xsd">',
    ]
    for entry in body["member"]:
        ident = entry["id"]
        lines.append("<ns2:member>")
        lines.append(f"<ns2:id ns1:objectType={quoteattr(ident['object_type'])}>")
        for key, tag in (
            ("xroad_instance", "xRoadInstance"),
            ("member_class", "memberClass"),
            ("member_code", "memberCode"),
            ("subsystem_code", "subsystemCode"),
        ):
            if key in ident:
                lines.append(f"<ns1:{tag}>{escape(ident[key])}</ns1:{tag}>")
        lines.append("</ns2:id>")
        lines.append(f"<ns2:name>{escape(entry['name'])}</ns2:name>")
        if entry.get("subsystem_name") is not None:
            lines.append(
                f"<ns2:subsystemName>{escape(entry['subsystem_name'])}</ns2:subsystemName>"
            )
        lines.append("</ns2:member>")
    lines.append("</ns2:clientList>")
    return "\n".join(lines).encode("utf-8")


class Metaservices:
    def __init__(self, *, registry: RegistryCache, forwarder: Forwarder) -> None:
        self.registry = registry
        self.forwarder = forwarder
        self._openapi: dict[str, tuple[float, int, bytes]] = {}  # id -> (when, version, doc)

    async def answer(
        self, target: paths.Target, client: str, query: str, method: str = "GET"
    ) -> tuple[Answer, float | None]:
        """The metaservice's answer, and the milliseconds spent asking the provider (if any)."""
        if method not in ("GET", "HEAD"):
            raise errors.BadRequest(
                f"the metaservice {target.meta} answers GET and HEAD only (got {method})"
            )
        snap = self.registry.snapshot
        if target.provider not in snap.subsystems:
            raise errors.UnknownService(f"there is no subsystem {target.provider}")
        provided = [s for s in snap.services.values() if s.provider == target.provider]
        if target.meta == "listMethods":
            body = {"service": [_service_json(s) for s in provided]}
        elif target.meta == "allowedMethods":
            # What the caller may call now: granted, and not disabled (itself, its subsystem
            # or its member), as its exchanges would be refused.
            body = {
                "service": [
                    _service_json(s)
                    for s in provided
                    if (client, s.id) in snap.grants and s.enabled and s.problem is None
                ]
            }
        else:
            return await self._openapi_doc(snap, target, query)
        return Answer(200, [], orjson.dumps(body), JSON), None

    async def _openapi_doc(
        self, snap: Snapshot, target: paths.Target, query: str
    ) -> tuple[Answer, float | None]:
        # X-Road reads the parameter's name in any case (?servicecode=...), as the hub does.
        pairs = parse_qsl(query, keep_blank_values=True)
        codes = [v for k, v in pairs if k.lower() == "servicecode"] or [""]
        if len(codes) > 1:
            raise errors.BadRequest(
                "getOpenAPI takes one serviceCode; send one request per service"
            )
        code = codes[0]
        if not code:
            raise errors.BadRequest("getOpenAPI needs ?serviceCode=<service code>")
        provider, _, last = code.rpartition("/")
        parts = code.split("/")
        if len(parts) in (2, 6) and f"{target.provider}/{parts[-2]}" in snap.services:
            # X-Road's SOAP form, code (or service id) then version: getWsdl's serviceVersion.
            raise errors.BadRequest(
                f"serviceCode {code[:120]!r} has a version: a REST service has no version "
                f"part, its code alone names it: serviceCode={parts[-2]}"
            )
        if provider.count("/") == 3 and PART.fullmatch(last):
            raise errors.BadRequest(
                f"serviceCode {code[:120]!r} is a service id: give its code alone, "
                f"serviceCode={last} (the provider is the path's, {target.provider})"
            )
        if not PART.fullmatch(code) or code in (".", ".."):
            raise errors.BadRequest(
                f"serviceCode {code[:60]!r} is not a service code: use letters, digits, '-', '_' "
                "or '.'"
            )
        service = snap.services.get(f"{target.provider}/{code}")
        if service is None:
            prefix = target.provider + "/"
            codes = [sid[len(prefix) :] for sid in snap.services if sid.startswith(prefix)]
            raise errors.UnknownService(
                f"there is no service {prefix}{code}{did_you_mean(code, codes)}"
            )
        if not service.base_url:
            raise errors.ServiceFailed(f"provider {service.provider} has no base URL")
        cached = self._openapi.get(service.id)
        # Cut to the service's endpoints as the registry held them: a registry change (an
        # endpoint added) showed in the document only when its 60 s were up.
        if cached and cached[1] == snap.version and time.monotonic() - cached[0] < OPENAPI_TTL_S:
            return Answer(200, [], cached[2], JSON), None
        t0 = time.perf_counter()
        upstream = await self.forwarder.send(
            "GET", service.base_url + "/openapi.json", [], b"", service.timeout_s
        )
        upstream_ms = (time.perf_counter() - t0) * 1000
        if upstream.status != 200:
            raise errors.ServiceFailed(
                f"provider {service.provider} did not serve its OpenAPI document "
                f"(status {upstream.status})"
            )
        try:
            doc = orjson.loads(upstream.body)
        except orjson.JSONDecodeError:
            raise errors.ServiceFailed("the provider's OpenAPI document is not JSON") from None
        if not isinstance(doc, dict) or not ("openapi" in doc or "swagger" in doc):
            raise errors.ServiceFailed(
                f"provider {service.provider} serves at /openapi.json JSON that is not an "
                "OpenAPI document (it has no 'openapi' field)"
            )
        doc = _hide_servers(_only_service_paths(doc, service), service.base_url)
        if service.endpoints and isinstance(doc, dict) and doc.get("paths") == {}:
            # An empty document would read as a service with nothing to call.
            wanted = ", ".join(f"{e['method']} {e['path']}" for e in service.endpoints)
            raise errors.ServiceFailed(
                f"the OpenAPI document of provider {service.provider} describes none of the "
                f"endpoints of {service.id} ({wanted}); the registry and the provider disagree"
            )
        body = orjson.dumps(doc)
        self._openapi[service.id] = (time.monotonic(), snap.version, body)
        return Answer(200, [], body, JSON), upstream_ms


def _shape(path: str) -> str:
    """A path template with its parameter names dropped: /citizens/{id} -> /citizens/{}."""
    return PARAM.sub("{}", path.rstrip("/") or "/")


def _only_service_paths(doc: Any, service: ServiceEntry) -> Any:
    """Keep only the operations this service exposes, when the document has paths."""
    if not isinstance(doc, dict) or not isinstance(doc.get("paths"), dict) or not service.endpoints:
        return doc
    # Parameter names may differ between the registry and the provider's document.
    wanted = {(_shape(e["path"]), e["method"].lower()) for e in service.endpoints}
    kept: dict[str, Any] = {}
    for path, ops in doc["paths"].items():
        if isinstance(ops, dict):
            sel = {m: op for m, op in ops.items() if (_shape(path), m) in wanted}
            if sel:
                kept[path] = sel
    return {**doc, "paths": kept}


def _hide_servers(doc: dict[str, Any], base_url: str) -> dict[str, Any]:
    """The document's server URLs, each cut to its path, as X-Road's getOpenAPI does: the
    provider's host is no client's business, and a client generated from the document would
    call it around the hub. Also those of a path or an operation, which X-Road leaves."""
    doc = _cut_servers(doc, base_url)
    if isinstance(doc.get("paths"), dict):
        doc["paths"] = {
            path: {
                name: _cut_servers(op, base_url) if isinstance(op, dict) else op
                for name, op in _cut_servers(item, base_url).items()
            }
            if isinstance(item, dict)
            else item
            for path, item in doc["paths"].items()
        }
    return doc


def _cut_servers(obj: dict[str, Any], base_url: str) -> dict[str, Any]:
    """``obj`` with each of its ``servers`` cut to its URL's path. A URL under the service's
    base URL keeps the path below it, the part a client sends after ``/r1/{service id}``;
    variables take their defaults first."""
    servers = obj.get("servers")
    if not isinstance(servers, list):
        return obj
    base = base_url.rstrip("/")
    parts = urlsplit(base)
    origin = f"{parts.scheme}://{parts.netloc}"
    kept = []
    for server in servers:
        url = server.get("url") if isinstance(server, dict) else None
        if not isinstance(url, str):
            kept.append(server)
            continue
        variables = server.get("variables")
        defaults = variables if isinstance(variables, dict) else {}

        def default(m: re.Match[str], defaults: dict[str, Any] = defaults) -> str:
            value = defaults.get(m.group(1))
            found = value.get("default") if isinstance(value, dict) else None
            return found if isinstance(found, str) else ""

        url = VARIABLE.sub(default, url)
        if url.startswith("/") and not url.startswith("//"):
            url = origin + url  # on the provider's host, as the document was read from it
        if url == base or url.startswith(base + "/"):
            path = url[len(base) :]
        else:
            try:
                path = urlsplit(url).path
            except ValueError:  # an unreadable URL (a bad IPv6 host): nothing of it is shown
                path = ""
        kept.append({k: v for k, v in server.items() if k != "variables"} | {"url": path})
    return {**obj, "servers": kept}

"""Schemathesis against the hub's own OpenAPI (admin, operator) and a description of the
gateway route: no generated request may get a 5xx.

A healthy provider that answers 200 to anything sits behind the gateway, so a 5xx can only
be the hub's own failure.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.reliability.fakes import CLIENT, PROVIDER, FaultyProvider, registry_doc
from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
from tests.support import ADMIN, OPERATOR, serve

pytestmark = pytest.mark.slow

MAX_EXAMPLES = "15"
SERVICES = {
    "echo": {
        "endpoints": [{"method": "POST", "path": "/echo"}],
        "max_body_bytes": 2000,
        "request_schema": {"type": "object", "required": ["id"]},
    },
    "any": {"endpoints": []},
}


def gateway_openapi(hub_url: str) -> dict[str, Any]:
    """The exchange as OpenAPI: any segments and headers, and the real services' shapes."""
    text = {"type": "string"}
    # The generic route gets any client id; the routes of the real provider mostly the
    # registered one, so that generated requests get past authentication.
    clients = {"type": "string", "enum": [CLIENT, "VN/GOV/BTP/other", "x"]}
    purpose = {"type": "string", "pattern": "^[A-Za-z0-9-]{1,12}$"}
    any_headers = [
        {"name": name, "in": "header", "required": name == "X-Road-Client", "schema": text}
        for name in ("X-Road-Client", "X-Road-UserId", "X-Road-Issue", "X-Road-Id")
    ]
    xroad_headers = [
        {"name": "X-Road-Client", "in": "header", "required": True, "schema": clients},
        {"name": "X-Road-UserId", "in": "header", "required": True, "schema": purpose},
        {"name": "X-Road-Issue", "in": "header", "schema": purpose},
        {"name": "X-Road-Id", "in": "header", "schema": text},
    ]
    segment = {"type": "string", "minLength": 1}

    def seg(name: str, schema: dict[str, Any] = segment) -> dict[str, Any]:
        return {"name": name, "in": "path", "required": True, "schema": schema}

    answer = {"responses": {"default": {"description": "the provider's or the hub's answer"}}}
    service = {"type": "string", "enum": ["lookup", "echo", "any", "nothing"]}
    return {
        "openapi": "3.0.3",
        "info": {"title": "hub gateway", "version": "1"},
        "servers": [{"url": hub_url}],
        "paths": {
            "/r1/{instance}/{cls}/{member}/{subsystem}/{service}/{rest}": {
                "parameters": [
                    seg("instance"), seg("cls"), seg("member"), seg("subsystem"),
                    seg("service"), seg("rest"),
                ],
                "get": {**answer, "parameters": any_headers},
                "delete": {**answer, "parameters": any_headers},
            },
            "/r1/VN/GOV/BCA/population/{service}/{rest}": {
                "parameters": [seg("service", service), seg("rest")],
                "get": {
                    **answer,
                    "parameters": [
                        *xroad_headers,
                        {"name": "q", "in": "query", "schema": text},
                        {"name": "id", "in": "query", "schema": text},
                    ],
                },
                "post": {
                    **answer,
                    "parameters": xroad_headers,
                    "requestBody": {
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {"id": text, "n": {"type": "integer"}},
                                }
                            }
                        }
                    },
                },
            },
            "/r1/VN/GOV/BCA/population/{meta}": {
                "parameters": [
                    seg("meta", {"type": "string", "enum": ["listMethods", "allowedMethods",
                                                            "getOpenAPI", "x"]}),
                ],
                "get": {
                    **answer,
                    "parameters": [
                        *xroad_headers,
                        {"name": "serviceCode", "in": "query", "schema": text},
                    ],
                },
            },
        },
    }  # fmt: skip


async def schemathesis(*args: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).parent / "schemathesis"), "run", *args,
        "--checks", "not_a_server_error", "--max-examples", MAX_EXAMPLES, "--seed", "6",
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--no-shrink",
        "--suppress-health-check", "all", "--request-timeout", "10",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "COLUMNS": "160"},
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


def keep(tmp_path: Path, name: str, out: str) -> None:
    """Keep the run's report beside the test's files, for whoever looks into a failure."""
    (tmp_path / f"schemathesis-{name}.txt").write_text(out)


async def test_no_generated_request_gets_a_server_error(tmp_path: Path) -> None:
    env = hub_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path}/hub.db")
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url, **SERVICES), tmp_path)
        async with hub_process(env, tmp_path) as hub:
            key = await issue_key(hub.url, CLIENT)
            spec = tmp_path / "gateway-openapi.yaml"
            spec.write_text(yaml.safe_dump(gateway_openapi(hub.url)))
            code, out = await schemathesis(
                str(spec), "--url", hub.url, "-H", f"Authorization: Bearer {key}"
            )
            keep(tmp_path, "gateway", out)
            assert code == 0, out
            for token in (OPERATOR, ADMIN):  # the admin run last: it may delete things
                code, out = await schemathesis(
                    hub.url + "/openapi.json", "-H", f"Authorization: Bearer {token}",
                    "--exclude-path-regex", "^/(dashboard|metrics)",
                )  # fmt: skip
                keep(tmp_path, "operator" if token == OPERATOR else "admin", out)
                assert code == 0, out
    assert PROVIDER  # the fuzzed gateway paths above name this provider

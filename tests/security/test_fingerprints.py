"""How an operator writes a client certificate's fingerprint (``cert_sha256``): as
``openssl x509 -noout -fingerprint -sha256`` prints it, pasted whole or after its ``=``,
with colons or without, in either case. The hub keeps 64 lowercase hex digits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from hub.registry import service as registry
from hub.registry.yamlio import RegistryFileError
from tests.registry.registries import ADMIN_H, CLIENT, small_registry
from tests.support import hub_client, make_settings

HEX = "7aa0a90c5d5a520da895e24f819c40c26908315600a3ae5a098acbbfc2c581cf"
COLONS = ":".join(HEX[i : i + 2] for i in range(0, 64, 2)).upper()


@pytest.mark.parametrize(
    "written",
    [
        HEX,
        HEX.upper(),
        COLONS,
        COLONS.lower(),
        f"sha256 Fingerprint={COLONS}",  # OpenSSL 3's line, pasted as is
        f"SHA256 Fingerprint={COLONS}",  # OpenSSL 1.1's and LibreSSL's
        f"sha256 Fingerprint={COLONS}\n",  # with the line's end, from $(...) or a file
        f"  {HEX} ",
    ],
)
async def test_a_fingerprint_as_openssl_prints_it_is_taken(
    sqlite_url: str, tmp_path: Path, written: str
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (
            await c.put("/admin/registry", json=small_registry(), headers=ADMIN_H)
        ).status_code == 200
        body = {"cert_sha256": written}
        r = await c.patch(f"/admin/subsystems/{CLIENT}", json=body, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        assert r.json()["cert_sha256"] == HEX
        # The API's document admits what the hub takes.
        doc = (await c.get("/openapi.json")).json()
        op = doc["paths"]["/admin/subsystems/{subsystem_id}"]["patch"]
        schema = op["requestBody"]["content"]["application/json"]["schema"]
        assert _validator(doc, schema).is_valid(body)


def _validator(doc: dict[str, Any], schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator({**schema, "components": doc["components"]})


def test_a_registry_file_takes_openssls_line_too() -> None:
    text = (
        "subsystems:\n"
        f"  - id: {CLIENT}\n"
        f"    cert_sha256: sha256 Fingerprint={COLONS}\n"
    )  # fmt: skip
    doc = registry.parse_documents([("reg.yaml", text)])
    assert doc.subsystems[0].cert_sha256 == HEX


@pytest.mark.parametrize(
    ("written", "said"),
    [
        # A SHA-1 line has 40 digits: said as "64 hex digits" alone, the operator counted them.
        (
            "sha1 Fingerprint=" + ":".join(["AB"] * 20),
            "is a SHA1 fingerprint: print the SHA-256 one (openssl x509 -noout -fingerprint "
            "-sha256)",
        ),
        ("abc", "64 hex digits"),
    ],
)
def test_another_fingerprint_is_refused_saying_which_it_is(written: str, said: str) -> None:
    text = f"subsystems:\n  - id: {CLIENT}\n    cert_sha256: {written}\n"
    with pytest.raises(RegistryFileError) as refused:
        registry.parse_documents([("reg.yaml", text)])
    assert "reg.yaml:3" in str(refused.value) and said in str(refused.value)

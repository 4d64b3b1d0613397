"""The mock provider every benchmark target forwards to: one small JSON GET.

A FastAPI app on uvicorn, like the mock agencies, so "direct" is what a real provider
of this project costs. The answer is a citizen record of about 300 bytes.
"""

from __future__ import annotations

import orjson
from fastapi import FastAPI, Response

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

CITIZEN = {
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "2003-04-17",
    "sex": "male",
    "permanent_address": {"province": "79", "commune": "26734", "detail": "12 Lê Lợi"},
    "household_id": "HK79000001234",
    "father_id": "079070001111",
    "mother_id": "079175002222",
}


@app.get("/citizens/{cid}")
async def citizen(cid: str) -> Response:
    return Response(orjson.dumps({"id": cid, **CITIZEN}), media_type="application/json")


@app.get("/__health")
async def health() -> dict[str, str]:
    return {"status": "ok"}

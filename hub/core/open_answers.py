"""What the routes open without a token answer (/healthz, /readyz, /listClients, /demo/...),
as /openapi.json describes them for a client generated from it.

/listClients answers in X-Road's shapes (hub/gateway/metaservices.py), built as dicts on
its path: these describe them and check nothing. Its entries leave out what their kind has
not (a member has no ``subsystem_code``), hence TypedDicts, whose fields may be absent
rather than null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NotRequired

from pydantic import BaseModel, Field
from typing_extensions import TypedDict  # pydantic takes typing's only from Python 3.12

from hub.core.ids import EXAMPLES, PART, described


class Health(BaseModel):
    status: Literal["ok"]


class Checks(BaseModel):
    database: bool = Field(description="The database answered a query.")
    log_writer: bool = Field(description="The log takes exchanges (its queue is not full).")
    registry: bool = Field(description="The registry is loaded and its refresh does not fail.")


class Readiness(BaseModel):
    ready: bool = Field(description="Every check passed (200); else 503.")
    checks: Checks


READINESS: dict[int | str, dict[str, Any]] = {
    200: {"model": Readiness, "description": "Ready: every check passed"},
    503: {"model": Readiness, "description": "Not ready: the failed checks are false"},
}


class XRoadClientId(TypedDict):
    object_type: Literal["MEMBER", "SUBSYSTEM"]
    xroad_instance: str
    member_class: str
    member_code: str
    subsystem_code: NotRequired[str]  # a SUBSYSTEM's only


class XRoadClient(TypedDict):
    id: XRoadClientId
    name: str  # the member's name, also on each of its subsystems
    subsystem_name: NotRequired[str]  # a SUBSYSTEM's only


class ClientList(TypedDict):
    member: list[XRoadClient]


class XRoadError(BaseModel):
    """A refusal in X-Road's shape, as the gateway and its metaservices answer one."""

    type: str = Field(description="The X-Road fault code", examples=["Client.BadRequest"])
    message: str = Field(description="What is wrong and what to send instead")
    detail: str = Field(description="The X-Road-Request-Id the answer carries")


LIST_CLIENTS: dict[str, Any] = {
    "response_model": ClientList,
    "responses": {
        200: {
            "description": "Members and subsystems: JSON, or X-Road's clientList XML (PR-META) "
            "when Accept prefers text/xml or application/xml",
            "content": {"text/xml": {"schema": {"type": "string"}}},
        },
        400: {
            "model": XRoadError,
            "description": "xRoadInstance given twice or not an instance code; a method other "
            "than GET or HEAD",
        },
    },
    "openapi_extra": {
        "parameters": [
            {
                "name": "xRoadInstance",
                "in": "query",
                "required": False,
                "description": "Only the clients of this instance (none for an instance the "
                "hub does not hold); once at most",
                "schema": {"type": "string", "pattern": PART.pattern},
                "example": "VN",
            }
        ]
    },
}


class DemoCredential(BaseModel):
    client: Annotated[str, described(4)]
    api_key: str = Field(description="Its demo key, sent as 'Authorization: Bearer <api_key>'")
    services: list[Annotated[str, described(5)]] = Field(
        description="The services it is granted", examples=[[EXAMPLES[5]]]
    )


DEMO_OFF: dict[int | str, dict[str, Any]] = {
    404: {"description": "The demo endpoints are off: production, or HUB_DEMO_CREDENTIALS=false"}
}

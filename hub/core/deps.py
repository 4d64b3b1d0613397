"""FastAPI dependencies shared by the admin and operator API: state, sessions, roles."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core.security import token_matches

if TYPE_CHECKING:
    from hub.app import HubState

bearer = HTTPBearer(auto_error=False, description="The admin or operator token.")


def get_state(request: Request) -> HubState:
    return request.app.state.hub


StateDep = Annotated["HubState", Depends(get_state)]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.hub.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


# What each path takes, said in a 401: /admin only the admin token (the operator's is a
# 403 there), the rest (/api, and the API's description in production) either.
_ADMIN_TAKES = "the admin token (HUB_ADMIN_TOKEN of the hub)"
_API_TAKES = "the operator token (HUB_OPERATOR_TOKEN of the hub) or the admin token"
# The operator token reads /api; under /admin, a GET as much as a change needs the admin's
# ("the operator token only reads" was said to a GET /admin/members too).
ADMIN_ONLY = (
    "/admin needs the admin token (HUB_ADMIN_TOKEN), for reading as for changing; the "
    "operator token reads /api (statistics and the log)"
)


def unauthorized_message(token: str | None, path: str) -> str:
    """What a 401 of ``path`` says, in the gateway's words for its own 401s: how to send a
    token when none came (``None``), that the header is no bearer token (``""``), that the
    one sent was refused."""
    takes = _ADMIN_TAKES if _admin_path(path) else _API_TAKES
    if token is None:
        return f"no token: send 'Authorization: Bearer <token>' with {takes}"
    if not token:
        return f"the Authorization header must be 'Bearer <token>', with {takes}"
    return f"the token sent is neither this hub's admin token nor its operator token: send {takes}"


def _admin_path(path: str) -> bool:
    return path == "/admin" or path.startswith("/admin/")


def role_of(settings: Any, token: str | None) -> str | None:
    """``admin``, ``operator`` or None for the bearer token given."""
    if token_matches(token, settings.admin_token):
        return "admin"
    if token_matches(token, settings.operator_token):
        return "operator"
    return None


def _role(request: Request, creds: HTTPAuthorizationCredentials | None) -> str | None:
    return role_of(request.app.state.hub.settings, creds.credentials if creds else None)


def _unauthorized(request: Request, creds: HTTPAuthorizationCredentials | None) -> HTTPException:
    message = unauthorized_message(creds.credentials if creds else None, request.url.path)
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


def require_admin(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    role = _role(request, creds)
    if role is None:
        raise _unauthorized(request, creds)
    if role != "admin":
        raise HTTPException(403, ADMIN_ONLY)
    return role


def require_operator(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> str:
    role = _role(request, creds)
    if role is None:
        raise _unauthorized(request, creds)
    return role


AdminDep = Annotated[str, Depends(require_admin)]
OperatorDep = Annotated[str, Depends(require_operator)]

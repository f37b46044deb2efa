"""FastAPI dependencies as ``Annotated`` aliases, so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.container import Container
from app.errors import AdminDisabled, Unauthorized
from app.security import constant_time_equals
from app.services.auth import Principal, authenticate_api_key

_bearer = HTTPBearer(auto_error=False, description="API key of the integrating client")
_admin_bearer = HTTPBearer(auto_error=False, scheme_name="AdminToken", description="PAYBRIDGE_ADMIN_TOKEN")


async def get_container(request: Request) -> Container:
    # async: a plain def would be run in a worker thread on every request
    container: Container = request.app.state.container
    return container


ContainerDep = Annotated[Container, Depends(get_container)]


async def current_client(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("Send the client's API key as 'Authorization: Bearer <key>'.")
    client_ip = request.client.host if request.client else "unknown"
    return await authenticate_api_key(container, credentials.credentials, client_ip)


CurrentClient = Annotated[Principal, Depends(current_client)]


async def require_admin(
    request: Request,
    container: ContainerDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_admin_bearer)],
) -> None:
    token = container.settings.admin_token.get_secret_value()
    if not token:
        raise AdminDisabled("The operator API is off: set PAYBRIDGE_ADMIN_TOKEN to enable it.")
    address = request.client.host if request.client else "unknown"
    container.auth_limiter.check(address)
    if credentials is None or not constant_time_equals(credentials.credentials, token):
        container.auth_limiter.fail(address)
        raise Unauthorized("Send the operator token as 'Authorization: Bearer <token>'.")


AdminDep = Depends(require_admin)

"""FastAPI dependency aliases, defined once (``SessionDep``, ``SettingsDep``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.db import session_scope


async def get_settings_dep(request: Request) -> Settings:
    """Async on purpose: a sync dependency costs a thread-pool hop per request, and this does no I/O."""
    settings: Settings = request.app.state.settings
    return settings


def get_session(request: Request) -> Iterator[Session]:
    """One session per request; the request boundary commits, services never do."""
    with session_scope(request.app.state.sessionmaker) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]

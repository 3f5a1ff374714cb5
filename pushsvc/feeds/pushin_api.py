"""``POST /api/v1/feeds/jma/telegrams``: one raw JMA XML telegram from an authenticated relay (see ``pushin``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response, status
from sqlalchemy.orm import Session

from pushsvc.config import Settings
from pushsvc.deps import SettingsDep, WorkDep
from pushsvc.feeds import pushin

PATH = "/api/v1/feeds/jma/telegrams"
router = APIRouter(tags=["feeds"])


def _accept(db_session: Session, data: bytes, authorization: str | None, settings: Settings) -> pushin.Accepted:
    return pushin.accept(db_session, data, authorization, settings=settings, now=datetime.now(UTC))


@router.post(
    PATH,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        200: {"description": "already received (same telegram identity): nothing done"},
        401: {"description": "missing, unknown or revoked push-source token"},
        422: {"description": "not a usable JMA telegram (problem JSON, field 'body'); nothing stored or sent"},
    },
)
async def push_telegram(
    request: Request, work: WorkDep, settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> Any:
    """Accept one JMA 防災情報XML telegram (``Content-Type: application/xml``), processed as the poller would."""
    data = await request.body()
    accepted = await work(_accept, data, authorization, settings)  # counted after the unit's last step
    result = accepted.to_dict()
    if result["duplicate"]:
        return Response(content=_json(result), status_code=status.HTTP_200_OK, media_type="application/json")
    return result


def _json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode("utf-8")

"""避難情報: issue, raise/lower and lift (解除) evacuation orders; what is in force where.

Every change reaches residents through operators' own path (``operators.service.submit``), so scope,
approval and audit are the same as for any operator message; the order only adds the data (level,
hazards, area, shelters) the text is generated from and the one Topic all its messages share, so a
phone shows the current state rather than a history. A change that waits for a second operator is
applied when that message is sent (``refresh``); until then the order stays at its current level.
Functions take ``db_session`` and never commit.

This module is the domain's public face, what other domains and the routes import; the work is done in
``districts`` (saved districts, the area of an order), ``orders`` (issuing, changing, lifting),
``changes`` (each change as an operator message, applied once sent or approved) and ``public`` (what
residents and open data see).
"""

from __future__ import annotations

from pushsvc.evacuation.changes import LIFT_TTL_S, ORDER_TTL_S, SOURCE, refresh
from pushsvc.evacuation.districts import district_out, list_districts, save_district
from pushsvc.evacuation.orders import ATTRIBUTION, IN_FORCE, change, find_by_cap, get_order, issue, lift, list_orders
from pushsvc.evacuation.public import (
    SHELTERS_PER_PLACE,
    SNAPSHOT_TTL_S,
    covers,
    for_place,
    in_force,
    in_force_shared,
    municipality_point,
    names_of,
    order_out,
    public_out,
)

__all__ = [
    "ATTRIBUTION",
    "IN_FORCE",
    "LIFT_TTL_S",
    "ORDER_TTL_S",
    "SHELTERS_PER_PLACE",
    "SNAPSHOT_TTL_S",
    "SOURCE",
    "change",
    "covers",
    "district_out",
    "find_by_cap",
    "for_place",
    "get_order",
    "in_force",
    "in_force_shared",
    "issue",
    "lift",
    "list_districts",
    "list_orders",
    "municipality_point",
    "names_of",
    "order_out",
    "public_out",
    "refresh",
    "save_district",
]

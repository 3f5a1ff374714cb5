"""Imports every domain's tables so Alembic and the tests see the whole schema."""

from pushsvc.alerts.models import AlertState, AlertTransition
from pushsvc.delivery.models import DeliveryBatch, DeliveryFailure, Notification, NotificationReference
from pushsvc.evacuation.models import District, EvacuationOrder
from pushsvc.feeds.models import FeedAlert, FeedPushSource, FeedSource, RiverStation
from pushsvc.geo.models import Municipality
from pushsvc.kpi.models import KpiDaily, KpiEvent, KpiSalt, KpiVisitor
from pushsvc.operators.models import AreaPreset, AuditEntry, MessageMunicipality, Operator, OperatorMessage
from pushsvc.portal.models import Notice, NoticeAck
from pushsvc.shelters.models import Shelter, ShelterState
from pushsvc.subscriptions.models import Subscription, SubscriptionPlace
from pushsvc.webpush.models import VapidKeyRecord

__all__ = [
    "AlertState",
    "AlertTransition",
    "AreaPreset",
    "AuditEntry",
    "DeliveryBatch",
    "DeliveryFailure",
    "District",
    "EvacuationOrder",
    "FeedAlert",
    "FeedPushSource",
    "FeedSource",
    "KpiDaily",
    "KpiEvent",
    "KpiSalt",
    "KpiVisitor",
    "MessageMunicipality",
    "Municipality",
    "Notice",
    "NoticeAck",
    "Notification",
    "NotificationReference",
    "Operator",
    "OperatorMessage",
    "RiverStation",
    "Shelter",
    "ShelterState",
    "Subscription",
    "SubscriptionPlace",
    "VapidKeyRecord",
]

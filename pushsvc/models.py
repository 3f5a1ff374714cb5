"""Imports every domain's tables so Alembic and the tests see the whole schema."""

from pushsvc.delivery.models import DeliveryBatch, DeliveryFailure, Notification
from pushsvc.geo.models import Municipality
from pushsvc.subscriptions.models import Subscription, SubscriptionPlace, VapidKeyRecord

__all__ = [
    "DeliveryBatch",
    "DeliveryFailure",
    "Municipality",
    "Notification",
    "Subscription",
    "SubscriptionPlace",
    "VapidKeyRecord",
]

"""Imports every domain's tables so Alembic and the tests see the whole schema."""

from pushsvc.geo.models import Municipality
from pushsvc.subscriptions.models import Subscription, SubscriptionPlace, VapidKeyRecord

__all__ = ["Municipality", "Subscription", "SubscriptionPlace", "VapidKeyRecord"]

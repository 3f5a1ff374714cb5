"""A local RFC 8030 push service: what tests, benchmarks and the demo send to instead of FCM.

It checks VAPID and decrypts every message with the subscriber's private key using ``http_ece``
directly, so a test sees the text a phone would show, independently of our own encryption path.
"""

from pushsvc.dev.devpush.keys import SubscriberKeys
from pushsvc.dev.devpush.runner import DevPush, run_devpush
from pushsvc.dev.devpush.state import DevPushState, Fault, Received

__all__ = ["DevPush", "DevPushState", "Fault", "Received", "SubscriberKeys", "run_devpush"]

"""What the local push service knows: subscribers, injected faults, and everything that arrived.

Shared between the server's event-loop thread and the test thread, hence one lock around it all.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from pushsvc.dev.devpush.keys import SubscriberKeys

Mode = Literal["full", "count"]
ANY = "*"  # a fault set for this id applies to every endpoint without its own


@dataclass
class Fault:
    """Instead of accepting: wait ``stall_s`` seconds, then answer ``status`` (or carry on if None).

    ``remaining`` counts the requests it still applies to; None means until cleared.
    """

    status: int | None = None
    retry_after: str | None = None
    stall_s: float = 0.0
    remaining: int | None = None
    reason: str | None = None  # the answer's body, e.g. "QUOTA_EXCEEDED" for a sender-wide 429


@dataclass(frozen=True)
class Received:
    subscriber: str
    payload: bytes
    ttl: int
    urgency: str | None
    topic: str | None
    received_at: float

    @property
    def text(self) -> str:
        return self.payload.decode("utf-8")

    def json(self) -> Any:
        return json.loads(self.payload)

    def as_dict(self) -> dict[str, object]:
        return {
            "subscriber": self.subscriber,
            "payload": self.payload.decode("utf-8", "replace"),
            "ttl": self.ttl,
            "urgency": self.urgency,
            "topic": self.topic,
            "received_at": self.received_at,
        }


@dataclass
class Subscriber:
    id: str
    keys: SubscriberKeys
    vapid_key: str | None  # the applicationServerKey it subscribed with; None = unrestricted
    received: list[Received] = field(default_factory=list)


class DevPushState:
    def __init__(
        self, mode: Mode = "full", base_url: str = "", *, latency_s: float = 0.0, idle_408_s: float | None = None
    ) -> None:
        self.mode: Mode = mode
        self.base_url = base_url
        # Real push services answer in tens of milliseconds (FCM, Mozilla, Apple): every push is answered
        # this long after it arrived, so a bench measures how many requests the sender keeps in flight.
        self.latency_s = latency_s
        # A service that times out idle keep-alive connections: a request arriving on a connection idle
        # this long gets "408 Request Timeout" and the connection is closed, unread (None = never).
        self.idle_408_s = idle_408_s
        self.lock = threading.Lock()
        self.subscribers: dict[str, Subscriber] = {}
        self.faults: dict[str, Fault] = {}
        self.counters: Counter[str] = Counter()
        self.accepted_per_id: Counter[str] = Counter()  # count mode keeps only this per endpoint
        self.first_at = self.last_at = 0.0  # wall-clock times of the first and last accepted message
        # Per group of subscribers (the id without its trailing digits: "b17" and "b18" are group "b"):
        # [count, first_at, last_at], so a bench can time two notifications going out at once.
        self.groups: dict[str, list[float]] = {}

    def endpoint(self, subscriber_id: str) -> str:
        return f"{self.base_url}/push/{subscriber_id}"

    def add_subscriber(
        self, keys: SubscriberKeys | None = None, *, vapid_key: str | None = None, id: str | None = None
    ) -> Subscriber:
        sub = Subscriber(id or uuid.uuid4().hex, keys or SubscriberKeys.generate(), vapid_key)
        with self.lock:
            self.subscribers[sub.id] = sub
        return sub

    def subscription(self, sub: Subscriber) -> dict[str, object]:
        return {**sub.keys.subscription(self.endpoint(sub.id)), "expirationTime": None}

    def set_fault(self, subscriber_id: str, fault: Fault | None) -> None:
        with self.lock:
            if fault is None:
                self.faults.pop(subscriber_id, None)
            else:
                self.faults[subscriber_id] = fault

    def take_fault(self, subscriber_id: str) -> Fault | None:
        """The fault for this request (used up by one), if any."""
        if not self.faults:
            return None
        with self.lock:
            key = subscriber_id if subscriber_id in self.faults else ANY
            fault = self.faults.get(key)
            if fault is None:
                return None
            if fault.remaining is not None:
                fault.remaining -= 1
                if fault.remaining <= 0:
                    del self.faults[key]
            return fault

    def count(self, *names: str) -> None:
        with self.lock:
            self.counters.update(names)

    def accept(self, subscriber_id: str, message: Received | None = None, *, count_request: bool = False) -> None:
        """Count one accepted message (and keep it, in full mode)."""
        now = time.time()
        with self.lock:
            if count_request:
                self.counters["requests"] += 1
            if message is not None:
                self.subscribers[subscriber_id].received.append(message)
            self.accepted_per_id[subscriber_id] += 1
            self.counters["accepted"] += 1
            self.first_at = self.first_at or now
            self.last_at = now
            group = self.groups.get(subscriber_id.rstrip("0123456789"))
            if group is None:
                self.groups[subscriber_id.rstrip("0123456789")] = [1, now, now]
            else:
                group[0] += 1
                group[2] = now

    def received(self, subscriber_id: str) -> list[Received]:
        with self.lock:
            sub = self.subscribers.get(subscriber_id)
            return list(sub.received) if sub else []

    def stats(self) -> dict[str, object]:
        with self.lock:
            counts = self.accepted_per_id
            return {
                "mode": self.mode,
                "subscribers": len(self.subscribers),
                "counters": dict(self.counters),
                "endpoints_reached": len(counts),
                "duplicates": sum(n - 1 for n in counts.values() if n > 1),
                "first_at": self.first_at,
                "last_at": self.last_at,
                "groups": {
                    g: {"accepted": int(c), "first_at": f, "last_at": la} for g, (c, f, la) in self.groups.items()
                },
            }

    def reset(self) -> None:
        """Forget messages, counters and faults; keep subscribers (their keys live in the database)."""
        with self.lock:
            for sub in self.subscribers.values():
                sub.received.clear()
            self.faults.clear()
            self.counters.clear()
            self.accepted_per_id.clear()
            self.groups.clear()
            self.first_at = self.last_at = 0.0

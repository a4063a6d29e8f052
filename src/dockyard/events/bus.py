"""In-process event bus: features subscribe to domain events; a failing subscriber never fails the
operation that published the event (it is logged). Durable follow-up work goes through the job
queue, which subscribers enqueue into."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from typing import Any

log = logging.getLogger("dockyard.events")


class EventBus:
    def __init__(self) -> None:
        self._subscribers: dict[type, list[Callable[[Any], None]]] = defaultdict(list)

    def subscribe(self, event_type: type, handler: Callable[[Any], None]) -> None:
        self._subscribers[event_type].append(handler)

    def publish(self, event: object) -> None:
        for handler in self._subscribers.get(type(event), ()):
            try:
                handler(event)
            except Exception:  # noqa: BLE001 - a feature's failure must not undo the core's work
                log.exception("event subscriber failed for %s", type(event).__name__)

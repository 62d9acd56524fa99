"""The outbox consumer's event handlers, registered by the event class they take.

Each concept (endpoints, residency, mentoring) keeps its own `Handlers` and registers a
function per event class with `@handlers.handles(EventClass)`; the function's event parameter
is that class, so mypy checks what it reads. The consumer joins the registries and dispatches
each stored event by its topic, as the projections do (projections/base.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from eventsourcing.utils import get_topic

from domain.common import ProwdAggregate
from services.webhooks.batch import Batch

E = TypeVar("E", bound=ProwdAggregate.Event)
# A handler: the batch, the event's log position, the event.
Handler = Callable[[Batch, int, E], None]


class Handlers:
    """Handlers by the topic of their event class."""

    def __init__(self, *parts: Handlers) -> None:
        # The table holds every event class, so it erases the event type of its handlers.
        self._by_topic: dict[str, Handler[Any]] = {}
        for part in parts:
            for topic, handler in part._by_topic.items():
                if topic in self._by_topic:
                    raise ValueError(f"two outbox handlers of {topic}")
                self._by_topic[topic] = handler

    def handles(self, event_class: type[E]) -> Callable[[Handler[E]], Handler[E]]:
        """Register the decorated function as the handler of `event_class`."""

        def register(handler: Handler[E]) -> Handler[E]:
            self._by_topic[get_topic(event_class)] = handler
            return handler

        return register

    @property
    def topics(self) -> list[str]:
        """The topics of the event classes handled, sorted."""
        return sorted(self._by_topic)

    def apply(self, batch: Batch, position: int, topic: str, event: object) -> None:
        """Run the handler of `topic` (the stored topic of `event`, so of its class)."""
        handler = self._by_topic.get(topic)
        if handler is not None:
            handler(batch, position, event)

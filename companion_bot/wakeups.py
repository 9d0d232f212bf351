"""Wake-ups for the workers: whoever adds work to a queue (an update stored, a message or a
task queued) says so with its queue's `Signal`, and the queue's worker, listening, looks at
once instead of at its next poll.

Work added inside a transaction is seen by other connections only once it commits. Inside
`deferred()` — the workers wrap each update and each task in it — the signals wait for its
end and fire once, as committed; outside, they fire at once, and the worker also looks again
a moment later in case the work was still uncommitted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

Listener = Callable[[bool], None]  # called with `committed`

_deferred: ContextVar[set[Signal] | None] = ContextVar("deferred_wakeups", default=None)


class Signal:
    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def add_listener(self, callback: Listener) -> None:
        self._listeners.append(callback)

    def remove_listener(self, callback: Listener) -> None:
        if callback in self._listeners:
            self._listeners.remove(callback)

    def notify(self, *, committed: bool = False) -> None:
        """New work. `committed`: the caller knows it is committed (it ran in no
        transaction), so the worker needs no second look."""
        waiting = _deferred.get()
        if waiting is not None:
            waiting.add(self)
        else:
            self._fire(committed=committed)

    def _fire(self, *, committed: bool) -> None:
        for callback in list(self._listeners):
            callback(committed)


@contextlib.contextmanager
def deferred() -> Iterator[None]:
    """Hold the signals raised inside until it ends without an error (its transaction has
    committed by then); an error drops them, along with the work that was rolled back."""
    waiting: set[Signal] = set()
    token = _deferred.set(waiting)
    try:
        yield
    finally:
        _deferred.reset(token)
    for signal in waiting:
        signal._fire(committed=True)

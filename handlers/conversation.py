"""Conversations whose state lives in the database and is read at every update.

`Conversation` takes the place of PTB's ConversationHandler, with the same entry points,
states and fallbacks, and the same rules (entry points first when she is in no step, or
always with `allow_reentry`; then the handlers of her step; then the fallbacks; a callback
returns her next step, `END`, or None to stay). The difference is where the step is kept:
PTB's handler keeps every person's step in its own memory, loaded once at start-up, so two
processes (or a restarted one that missed a write) answer from a stale copy. Here the step is
part of her stored state (`companion_bot.persistence`), which the update dispatcher loads
before her update is handled and saves in the same transaction as the update's effects;
`bind` makes it visible to `check_update`, which PTB calls synchronously.

Her state holds every conversation's step under "conversations": one place for "where she
is" in each journey.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationHandlerStop, BaseHandler

END = -1
CONVERSATIONS = "conversations"

_state: ContextVar[dict[str, Any] | None] = ContextVar("conversation_state", default=None)


@contextlib.contextmanager
def bind(user_data: dict[str, Any] | None) -> Iterator[None]:
    """Make her stored state (the dict handlers see as `context.user_data`) the one every
    Conversation reads while her update is handled."""
    token = _state.set(user_data)
    try:
        yield
    finally:
        _state.reset(token)


def steps(user_data: dict[str, Any] | None) -> dict[str, Any]:
    """Her step in each conversation she is in (changes are stored with her state)."""
    if user_data is None:
        return {}
    return user_data.setdefault(CONVERSATIONS, {})


def step_of(user_data: dict[str, Any] | None, name: str) -> Any:
    return steps(user_data).get(name) if user_data is not None else None


def leave(user_data: dict[str, Any] | None, name: str) -> None:
    """End her conversation `name` from outside it (e.g. /cancel)."""
    if user_data is not None:
        steps(user_data).pop(name, None)
        if not user_data.get(CONVERSATIONS):
            user_data.pop(CONVERSATIONS, None)


def hand_over(context: Any) -> None:
    """Called by a Conversation's callback: once the conversation has taken its new state,
    the handlers registered after it (in its group) get this update too, as if the
    conversation had not taken it (a command that leaves an edit, a reply meant for her
    group)."""
    context.hand_over = True


def _matching(handlers: Sequence[BaseHandler], update: object) -> tuple[BaseHandler, object]:
    for handler in handlers:
        check = handler.check_update(update)
        if check is not None and check is not False:
            return handler, check
    return None, None  # type: ignore[return-value]


class Conversation(BaseHandler[Update, Any, None]):
    """A journey of several steps in a private chat; see the module docstring."""

    def __init__(
        self,
        *,
        name: str,
        entry_points: Sequence[BaseHandler],
        states: dict[object, Sequence[BaseHandler]],
        fallbacks: Sequence[BaseHandler],
        allow_reentry: bool = False,
    ) -> None:
        super().__init__(self._never_called)
        self.name = name
        self.entry_points = list(entry_points)
        self.states = {state: list(handlers) for state, handlers in states.items()}
        self.fallbacks = list(fallbacks)
        self.allow_reentry = allow_reentry

    @staticmethod
    async def _never_called(update: object, context: object) -> None:  # pragma: no cover
        raise AssertionError("Conversation handles updates through its inner handlers")

    def check_update(self, update: object) -> tuple[object, BaseHandler, object] | None:
        if not isinstance(update, Update) or update.effective_user is None:
            return None
        if update.channel_post or update.edited_channel_post:
            return None
        if update.callback_query is not None and update.callback_query.message is None:
            return None  # a button of an inline message: not part of a private journey
        state = step_of(_state.get(), self.name)
        handler: BaseHandler | None = None
        check: object = None
        if state is None or self.allow_reentry:
            handler, check = _matching(self.entry_points, update)
            if handler is None and state is None:
                return None
        if handler is None:
            handler, check = _matching(self.states.get(state, []), update)
        if handler is None:
            handler, check = _matching(self.fallbacks, update)
        if handler is None:
            return None
        return state, handler, check

    async def handle_update(
        self,
        update: Update,
        application: Application,
        check_result: tuple[object, BaseHandler, object],
        context: Any,
    ) -> None:
        _state_before, handler, check = check_result
        context.hand_over = False
        stop = False
        try:
            new_state = await handler.handle_update(update, application, check, context)
        except ApplicationHandlerStop as exception:
            new_state, stop = exception.state, True
        self._update_state(context.user_data, new_state)
        if stop:
            raise ApplicationHandlerStop
        if context.hand_over:
            await self._hand_over(update, application, context)

    async def _hand_over(self, update: Update, application: Application, context: Any) -> None:
        """What `Application.process_update` does with the rest of this handler's group."""
        for group in application.handlers.values():
            if self not in group:
                continue
            for handler in group[group.index(self) + 1 :]:
                check = handler.check_update(update)
                if check is not None and check is not False:
                    await handler.handle_update(update, application, check, context)
                    return

    def _update_state(self, user_data: dict[str, Any] | None, new_state: object) -> None:
        if user_data is None or new_state is None:
            return
        if new_state == END:
            leave(user_data, self.name)
        else:
            steps(user_data)[self.name] = new_state

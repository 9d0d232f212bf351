"""The action codec (companion_bot/actions.py): the data of buttons already sent decodes to
the same data, every action fits in a button, and nothing malformed or foreign decodes."""

from __future__ import annotations

import dataclasses
import re
import types
from typing import Literal, Union, get_args, get_origin, get_type_hints

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion_bot import actions
from companion_bot.actions import MAX_INT, Shape
from companion_bot.gazetteer import Gazetteer
from companion_bot.signing import MAX_DATA, sign, verify
from handlers.callbacks import pattern, signed, signed_pattern, unsigned

SECRET = b"k" * 32

# Data as the bot built it by hand before the codec (and as buttons in chats and rows in the
# outbox still hold it): every kind, every variant.
LEGACY = {
    "cl:at:12": actions.Closing("at", 12),
    "cl:later:12:7": actions.Closing("later", 12, 7),
    "cl:gone:12": actions.Closing("gone", 12),
    "cl:coming:12": actions.Closing("coming", 12),
    "cl:alone:12": actions.Closing("alone", 12),
    "cl:home:12": actions.Closing("home", 12),
    "hs:ok:12": actions.SafeAnswer("ok", 12),
    "hs:no:12": actions.SafeAnswer("no", 12),
    "du:3:1": actions.Duty(3, True),
    "du:3:0": actions.Duty(3, False),
    "vo:left:5": actions.GroupCard("left", 5),
    "vo:miss:5": actions.GroupCard("miss", 5),
    "vm:5:12": actions.MissingPick(5, 12),
    "hp:lvl:harassed": actions.HelpLevelPick("harassed"),
    "hp:lvl:uncomfortable": actions.HelpLevelPick("uncomfortable"),
    "hp:cancel": actions.HelpCancel(),
    "hp:yes:9": actions.HelpAnswer("yes", 9),
    "hp:no:9": actions.HelpAnswer("no", 9),
    "hp:close:9": actions.HelpAnswer("close", 9),
    "vh:claim:9": actions.VolunteerHelp("claim", 9),
    "vh:close:9": actions.VolunteerHelp("close", 9),
    "gr:mute:5": actions.GroupButton("mute", 5),
    "gr:unmute:5": actions.GroupButton("unmute", 5),
    "gr:leave:5": actions.GroupButton("leave", 5),
    "rm:group:8": actions.RemoveReported("group", 8),
    "rm:event:8": actions.RemoveReported("event", 8),
    "rr:group:12": actions.RemoveRegistration("group", 12),
    "rr:event:12": actions.RemoveRegistration("event", 12),
    "tin:5": actions.TableJoined(5),
    "fg:yes": actions.Forget("yes"),
    "fg:no": actions.Forget("no"),
    "av:44": actions.Avoid(44),
    "lang:fr": actions.ChooseLanguage("fr"),
    "lang:nl": actions.ChooseLanguage("nl"),
    "leave:no": actions.LeaveKeep(),
    "leave:12": actions.LeavePick(12),
    "leave:yes:12": actions.LeaveConfirm(12),
    "fu:met:3:yes": actions.FollowupMet(3, "yes"),
    "fu:met:3:partly:o": actions.FollowupMet(3, "partly", "o"),
    "fu:met:3:none": actions.FollowupMet(3, "none"),
    "fu:home:3:no": actions.FollowupHome(3, "no"),
    "fu:done:3:0": actions.FollowupDone(3, False),
    "fu:done:3:1": actions.FollowupDone(3, True),
    "fc:21": actions.FollowupContact(21),
    "fc:21:44": actions.FollowupContact(21, 44),
    "ta:ev:3": actions.SafetyTestPick(3),
    "ta:ack:77": actions.DrillReceived(77),
    "sw:set": actions.SafeWord("set"),
    "sw:del": actions.SafeWord("del"),
    "ev:bc:3": actions.EventPick("bc", 3),
    "ev:dp:3": actions.EventPick("dp", 3),
    "ev:db:3": actions.EventPick("db", 3),
    "ev:mt:3": actions.EventPick("mt", 3),
    "ev:st:3": actions.EventPick("st", 3),
    "bo:qr:3": actions.BoardPick("qr", 3),
    "bo:csv:3": actions.BoardPick("csv", 3),
    "bo:newlink:3": actions.BoardPick("newlink", 3),
    "bc:to:all:0": actions.BroadcastAudience("all", 0),
    "bc:to:volunteers:0": actions.BroadcastAudience("volunteers", 0),
    "bc:to:wave:7": actions.BroadcastAudience("wave", 7),
    "bc:send:3": actions.BroadcastPreview("send", 3),
    "bc:rewrite:0": actions.BroadcastPreview("rewrite", 0),
    "bc:cancel:0": actions.BroadcastPreview("cancel", 0),
    "dp:wave:7": actions.DepartureEdit("wave", 7),
    "dp:del:7": actions.DepartureEdit("del", 7),
    "dp:add:3": actions.DepartureEdit("add", 3),
    "dp:point:4": actions.DeparturePoint(4),
    "dp:delyes:7": actions.DepartureRemoval("delyes", 7),
    "dp:delno:0": actions.DepartureRemoval("delno", 0),
    "st:3:r": actions.SettingPick(3, "r"),
    "st:3:c:45": actions.SettingValue(3, "c", 45),
    "zn:ev:3": actions.ZoneButton("ev", 3),
    "zn:add:3": actions.ZoneButton("add", 3),
    "zn:del:6": actions.ZoneButton("del", 6),
    "zn:at:fr-paris-11": actions.ZoneAt("fr-paris-11"),
    "ne:create": actions.NewEventCreate(),
    "ne:restart": actions.NewEventRestart(),
    "ne:default:timezone": actions.NewEventDefault("timezone"),
    "ne:kind:online": actions.NewEventKind("online"),
    "ne:kind:small": actions.NewEventKind("small"),
    "ne:where:be-ixelles": actions.NewEventPlace("be-ixelles"),
    "su:me:3": actions.SignupMine(3),
    "su:lang:en": actions.SignupLanguage("en"),
    "su:charter:yes": actions.Charter("yes"),
    "su:charter:no": actions.Charter("no"),
    "su:name:default": actions.DefaultName(),
    "su:att:person": actions.Attendance("person"),
    "su:att:online": actions.Attendance("online"),
    "su:arr:here": actions.Arrival("here"),
    "su:arr:own": actions.Arrival("own"),
    "su:arr:slot:5": actions.ArrivalSlotPick(5),
    "su:act:0": actions.ActivityPick(0),
    "su:act:any": actions.AnyActivity(),
    "su:dest:none": actions.DestinationPick("none"),
    "su:dest:retype": actions.DestinationPick("retype"),
    "su:dest:place:fr-paris-11": actions.DestinationPlace("fr-paris-11"),
    "su:dest:place:zone:6": actions.DestinationPlace("zone:6"),
    "sz:6": actions.DestinationZone(6),
    "su:tr:night_bus": actions.TransportPick("night_bus"),
    "su:seats:0": actions.SeatsPick(0),
    "su:seats:4": actions.SeatsPick(4),
    "su:wave:7": actions.WavePick(7),
    "su:edit:destination": actions.Edit("destination"),
    "su:sum:confirm": actions.Confirm(),
    "wm:language": actions.MenuItem("language"),
    "wl:nl": actions.SpeakLanguage("nl"),
}

# Sent unsigned on Telegram (up to 64 bytes there); every other kind is signed everywhere.
UNSIGNED_ON_TELEGRAM = {
    actions.NewEventPlace,
    actions.DestinationPlace,
}


@pytest.mark.parametrize("data", LEGACY)
def test_legacy_data_decodes_and_encodes_back_the_same(data):
    action = actions.decode(data)
    assert action == LEGACY[data]
    assert action.encode() == data
    matching = [kind for kind in actions.KINDS if actions.pattern(kind).match(data)]
    assert matching == [type(action)]  # one kind only, and its handler's pattern routes it


def test_every_kind_has_legacy_data():
    assert {type(action) for action in LEGACY.values()} == set(actions.KINDS)


def strategy(hint):
    """Values of a field: ids up to the database's largest."""
    if get_origin(hint) in (Union, types.UnionType):
        base = next(arg for arg in get_args(hint) if arg is not type(None))
        return st.none() | strategy(base)
    if hint is int:
        return st.integers(min_value=0, max_value=MAX_INT)
    if hint is bool:
        return st.booleans()
    if get_origin(hint) is Literal:
        return st.sampled_from(get_args(hint))
    shape = next(arg for arg in get_args(hint)[1:] if isinstance(arg, Shape))
    return st.from_regex(shape.regex, fullmatch=True)


def instances(kind):
    hints = get_type_hints(kind, include_extras=True)
    fields = {f.name: strategy(hints[f.name]) for f in dataclasses.fields(kind)}
    return st.builds(kind, **fields)


ANY_ACTION = st.sampled_from(actions.KINDS).flatmap(instances)


@given(ANY_ACTION)
def test_every_action_round_trips(action):
    data = action.encode()
    assert actions.decode(data) == action
    assert actions.pattern(type(action)).match(data)
    assert actions.decode_as(type(action), data) == action


@given(ANY_ACTION, st.integers(min_value=1, max_value=2**40))
def test_signed_actions_route_to_their_kind_only(action, user_id):
    signed = sign(user_id, action.encode(), SECRET)
    assert actions.pattern(type(action), signed=True).match(signed)
    assert not actions.pattern(type(action)).match(signed)
    assert actions.decode(signed) is None  # the signature is checked, then the data decoded
    assert actions.decode(verify(user_id, signed, SECRET)) == action


def largest(kind):
    """The action of `kind` with its longest data: the largest ids, the longest words, the
    longest place the gazetteer knows."""
    longest_place = max((place.id for place in Gazetteer.default().places), key=len)
    hints = get_type_hints(kind, include_extras=True)
    values = {}
    for field in dataclasses.fields(kind):
        hint = hints[field.name]
        if get_origin(hint) in (Union, types.UnionType):
            hint = next(arg for arg in get_args(hint) if arg is not type(None))
        if hint is int:
            values[field.name] = MAX_INT
        elif hint is bool:
            values[field.name] = True
        elif get_origin(hint) is Literal:
            values[field.name] = max(get_args(hint), key=len)
        elif hint == actions.Place:
            values[field.name] = longest_place
        else:
            shape = next(arg for arg in get_args(hint)[1:] if isinstance(arg, Shape))
            longest = re.search(r"\{\d+,(\d+)\}$", shape.regex)
            values[field.name] = "a" * int(longest[1]) if longest else "en"
    return kind(**values)


@pytest.mark.parametrize("kind", actions.KINDS, ids=lambda kind: kind.__name__)
def test_every_action_fits_in_a_button(kind):
    action = largest(kind)
    data = action.encode()
    assert actions.decode(data) == action
    limit = 64 if kind in UNSIGNED_ON_TELEGRAM else MAX_DATA
    assert len(data.encode()) <= limit, data
    if kind not in UNSIGNED_ON_TELEGRAM:
        assert len(sign(2**40, data, SECRET).encode()) <= 64


MALFORMED = [
    None, 12, b"cl:home:12", "", ":", "cl", "cl:", "cl:home", "cl:home:", "cl:home:x",
    "cl:home:-1", "cl:home:1.5", "cl:home:012", "cl:home:1:2:3", "cl:fly:12", "CL:home:12",
    " cl:home:12", "cl:home:12\n", "cl:home:12~abcdefghij", "cl:home:99999999999",
    "cl:home:2147483648", "zz:12", "hp:lvl:", "hp:lvl:Danger", "su:lang:de", "su:dest:place:",
    "su:dest:place:../x", "du:3:2", "fu:met:3:yes:x", "fc:1:2:3", "st:3:r:5:5", "leave:yes:no",
    "x" * 1000, "cl:home:1\x00",
]  # fmt: skip


@pytest.mark.parametrize("data", MALFORMED)
def test_malformed_or_foreign_data_decodes_to_nothing(data):
    assert actions.decode(data) is None


@given(st.text(max_size=80))
def test_decoding_never_raises_and_is_canonical(data):
    action = actions.decode(data)
    assert action is None or action.encode() == data


def test_largest_int_is_the_database_s():
    assert actions.decode(f"cl:home:{MAX_INT}") == actions.Closing("home", MAX_INT)


def test_one_pattern_routes_several_kinds():
    both = signed_pattern(actions.SettingPick, actions.SettingValue)
    for action in (actions.SettingPick(3, "r"), actions.SettingValue(3, "r", 5)):
        assert both.match(sign(7, action.encode(), SECRET))
    assert not both.match(sign(7, "st:3", SECRET))
    assert pattern(actions.LeavePick, actions.LeaveKeep).match("leave:no")
    assert not pattern(actions.LeavePick, actions.LeaveKeep).match("leave:yes:3")


@pytest.mark.parametrize(
    "action",
    [
        actions.SettingPick(3, "Not a word"),
        actions.Closing("home", MAX_INT + 1),
        actions.Closing("home", -1),
        actions.DestinationPlace("zone:1~x"),
        actions.ChooseLanguage("de"),
    ],
)
def test_no_button_is_made_that_would_not_come_back(action):
    with pytest.raises(ValueError):
        action.encode()


def test_a_button_handler_names_the_kinds_it_takes():
    async def handler(update, context, action):
        return action

    for decorator in (signed, unsigned):
        with pytest.raises(TypeError):
            decorator(handler)  # used as `@signed` rather than `@signed(Kind)`
        with pytest.raises(TypeError):
            decorator()
        assert callable(decorator(actions.Closing)(handler))

from datetime import UTC, datetime, time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from companion_bot.services.errors import UserInputError
from companion_bot.services.times import (
    next_occurrence,
    parse_clock,
    parse_clock_range,
    parse_local_datetime,
)

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("23:30", time(23, 30)), ("23h30", time(23, 30)), ("23h", time(23, 0)), ("7.05", time(7, 5)),
     ("23u30", time(23, 30)), ("1u", time(1, 0)),
     ("0:00", time(0, 0)), ("24:00", time(0, 0)), (" 02:15 ", time(2, 15))],
)  # fmt: skip
def test_clock_times(text, expected):
    assert parse_clock(text) == expected


@pytest.mark.parametrize("text", ["25:00", "23:60", "99h", "midnight", "", "12:5", "-1:00"])
def test_impossible_clock_times_are_refused(text):
    with pytest.raises(UserInputError) as error:
        parse_clock(text)
    assert error.value.params["text"] == text.strip()


def test_local_datetime_in_the_event_zone():
    moment = parse_local_datetime("2026-12-05 23:00", "Europe/Paris", NOW)
    assert moment == datetime(2026, 12, 5, 22, 0, tzinfo=UTC)
    assert parse_local_datetime("05/12/2026 23h00", "Europe/Paris", NOW) == moment
    assert parse_local_datetime("5/12 23:00", "Europe/Paris", NOW) == moment


@pytest.mark.parametrize("text", ["2026-02-30 23:00", "31/04/2027 22:00", "tomorrow", "2026-12-05"])
def test_impossible_dates_are_refused(text):
    with pytest.raises(UserInputError):
        parse_local_datetime(text, "Europe/Paris", NOW)


def test_past_dates_are_refused():
    with pytest.raises(UserInputError) as error:
        parse_local_datetime("2026-11-20 23:00", "Europe/Paris", NOW)
    assert "already past" in error.value.message


def test_clock_times_after_midnight_belong_to_the_same_night():
    doors = datetime(2026, 12, 5, 22, 0, tzinfo=UTC)  # 23:00 in Paris
    assert next_occurrence(time(2, 0), doors, "Europe/Paris") == datetime(
        2026, 12, 6, 1, 0, tzinfo=UTC
    )
    assert next_occurrence(time(23, 30), doors, "Europe/Paris") == datetime(
        2026, 12, 5, 22, 30, tzinfo=UTC
    )


def test_ranges():
    assert parse_clock_range("23:00-00:00") == (time(23), time(0))
    assert parse_clock_range("23h → 0h30") == (time(23), time(0, 30))
    assert parse_clock_range("23u tot 0u30") == (time(23), time(0, 30))
    with pytest.raises(UserInputError):
        parse_clock_range("23:00")


@given(st.text(max_size=60))
def test_any_text_is_read_or_refused_cleanly(text):
    try:
        parse_local_datetime(text, "Europe/Paris", NOW)
    except UserInputError:
        pass

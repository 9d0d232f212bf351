import pytest

from companion_bot.services.errors import UserInputError
from companion_bot.services.people import clean_display_name


@pytest.mark.parametrize(
    ("text", "expected"),
    [("Marie", "Marie"), ("  Léa   M. ", "Léa M."), ("Zoé 🌙", "Zoé 🌙"), ("J-B", "J-B"),
     ("Nuit\u200b", "Nuit")],
)  # fmt: skip
def test_names_kept_tidy(text, expected):
    assert clean_display_name(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "@marie_75", "06 12 34 56 78", "+33612345678", "https://t.me/marie", "x" * 33,
     "1234", "🌙🌙", "marie.fr"],
)  # fmt: skip
def test_names_that_are_empty_too_long_or_reveal_contact_details(text):
    with pytest.raises(UserInputError):
        clean_display_name(text)


@pytest.mark.parametrize(("language", "expected"), [("fr", "Équipe"), ("en", "Team")])
async def test_a_team_member_without_a_usable_first_name_gets_a_translated_one(
    db, language, expected
):
    from companion_bot.services.people import ensure_display_name, ensure_person

    await ensure_person(4242, language)
    person = await ensure_display_name(4242, "@night_owl")
    assert person.display_name == expected

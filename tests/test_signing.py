from hypothesis import given
from hypothesis import strategies as st

from companion_bot.signing import MAX_DATA, sign, verify

SECRET = b"k" * 32


def test_signed_data_round_trips_for_its_person_only():
    signed = sign(42, "vol:left:17", SECRET)
    assert len(signed.encode()) <= 64
    assert verify(42, signed, SECRET) == "vol:left:17"
    assert verify(43, signed, SECRET) is None  # replayed by someone else
    assert verify(42, signed, b"other" * 8) is None
    assert verify(42, signed.replace(":17", ":18"), SECRET) is None  # forged id
    assert verify(42, "vol:left:17", SECRET) is None


@given(st.text(max_size=80), st.integers(min_value=1, max_value=2**40))
def test_garbage_never_verifies(data, user_id):
    assert verify(user_id, data, SECRET) is None or "~" in data


@given(st.from_regex(r"[a-z]{2,4}(:[a-z0-9]{1,8}){0,4}", fullmatch=True))
def test_any_short_data_can_be_signed(data):
    if len(data) <= MAX_DATA:
        assert verify(7, sign(7, data, SECRET), SECRET) == data


def test_a_telegram_signature_is_unchanged():
    """Buttons already sent keep working: an int is signed exactly as before addresses."""
    import base64
    import hashlib
    import hmac

    digest = hmac.new(SECRET, b"42|vol:left:17", hashlib.sha256).digest()
    mac = base64.urlsafe_b64encode(digest).decode()[:10]
    assert sign(42, "vol:left:17", SECRET) == f"vol:left:17~{mac}"


def test_an_address_signs_for_itself_only():
    signed = sign("whatsapp:33612345678", "cl:home:5", SECRET)
    assert verify("whatsapp:33612345678", signed, SECRET) == "cl:home:5"
    assert verify("whatsapp:33612345679", signed, SECRET) is None
    # The same digits as a Telegram id, or as another channel's address, are someone else.
    assert verify(33612345678, sign("33612345678", "cl:home:5", SECRET), SECRET) is None
    assert verify("33612345678", sign(33612345678, "cl:home:5", SECRET), SECRET) is None
    assert verify("signal:33612345678", signed, SECRET) is None

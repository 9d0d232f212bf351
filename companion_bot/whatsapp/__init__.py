"""The WhatsApp edge: what the bot needs to serve people on WhatsApp through Meta's Cloud API,
beside Telegram, on the same core.

- `client`: sends message bodies to the Graph API's messages endpoint; Meta's errors come
  back as typed exceptions the outbox worker acts on (retry, window, undeliverable, permanent).
- `webhook`: Meta's GET handshake and signed POSTs; each message is committed to the inbox
  (channel "whatsapp", keyed by her wa_id) before Meta gets its 200.
- `render`: a channel-neutral notice (the contract is in its docstring) to the bodies to send.
- `formatting`: Telegram-HTML to WhatsApp's *bold* _italic_ ~strike~, and short titles.
- `window`: the 24-hour customer-service window, as pure logic.
- `templates`: the utility templates organizers submit to Meta, their texts in fr/en/nl.

The emulator the tests and the demo talk to is `companion_bot.whatsapp_emulator`.
"""

CHANNEL = "whatsapp"


def address(wa_id: str) -> str:
    """Her address on this channel, as buttons are signed for it (`companion_bot.signing`)."""
    return f"{CHANNEL}:{wa_id}"

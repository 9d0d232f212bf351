"""`companion-bot demo`: try the bot without a Telegram token.

The real bot runs against the built-in Bot API emulator, and the WhatsApp Cloud API emulator
posting to its webhook, on a throwaway database with a sample event; a local web page shows the
chats of three attendees on Telegram, one on WhatsApp, a volunteer and an organizer side by
side, lets one write and tap as each of them, and moves the night's clock forward. The same
server serves the organizers' live board; once the night is over, a new one starts in place.

- `scenario`: the sample event, the personas, the attendees already signed up;
- `session`: one running night (`open_demo`), what the page sees and does, and the nights one
  after the other (`open_nights`);
- `timeline`: moving the bot's clock from one scheduled task to the next;
- `chat`: the emulator's messages as the page's JSON; `whatsapp`: the attendee on WhatsApp;
- `database`: the demo's own database, emptied for each night;
- `web`: the page, its JSON endpoints and the live board; `run`: the command itself.
"""

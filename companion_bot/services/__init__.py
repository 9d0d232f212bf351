"""Services: what the bot does, independent of Telegram. Handlers call these; these call
storage and the matching engine."""

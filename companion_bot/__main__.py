import sys

from companion_bot.cli import main

sys.exit(main())

"""The Telegram front end: ``python -m bot telegram`` (see docs/telegram.md).

``app.build_application`` wires the bot; ``cli`` holds the two hooks ``bot/cli.py`` calls.
"""

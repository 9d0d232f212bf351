"""The browser fixture (tests/browser.py) for the page tests here."""

from tests.browser import browser  # noqa: F401 - a fixture

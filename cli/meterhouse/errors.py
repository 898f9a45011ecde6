"""The one exception type for errors a user can cause and fix.

The CLI prints its message without a traceback and exits non-zero; anything else that escapes
is a bug in meterhouse and keeps its traceback.
"""


class MeterhouseError(Exception):
    """A problem with the user's input or environment; the message says what to do."""

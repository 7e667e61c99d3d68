"""The one exception type that means "the user gave us bad input", and its warning sibling."""


class JadisError(Exception):
    """A user-facing error: bad input, missing file, unsupported option.

    The CLI prints its message as a single line and exits with status 2. Library code raises it
    (or a subclass) whenever the cause is the caller's input rather than a bug in jadis.
    The message must be one line, say what is wrong and, where possible, what to do.
    """


class JadisWarning(UserWarning):
    """A user-facing warning: the input is usable but probably not what was meant.

    The CLI prints it as one line (``jadis: warning: …``); raise it with :func:`warnings.warn`.
    """


def shorten(value: object, limit: int = 80) -> str:
    """``str(value)`` on one line, cut in the middle to at most ``limit`` characters (for messages
    that echo a user's argument, which may be a whole paragraph)."""
    text = " ".join(str(value).split())
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 3
    return f"{text[:head]}…{text[len(text) - (limit - 1 - head):]}"

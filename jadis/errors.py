"""The one exception type that means "the user gave us bad input"."""


class JadisError(Exception):
    """A user-facing error: bad input, missing file, unsupported option.

    The CLI prints its message as a single line and exits with status 2. Library code raises it
    (or a subclass) whenever the cause is the caller's input rather than a bug in jadis.
    The message must be one line, say what is wrong and, where possible, what to do.
    """

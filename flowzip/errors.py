"""The one exception type flowzip raises for anything a user can cause."""


class FlowzipError(Exception):
    """A problem with the user's input, files or models; its message is one line meant for the user."""

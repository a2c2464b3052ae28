"""Errors that reach a person: a CLI exit code 2 or an HTTP 4xx, with one clear line."""


class UserError(Exception):
    """Bad input or a request that cannot be served; the message is shown as is."""

__all__ = ["UnknownHostException", "ConnectionErrorException", "AuthenticationException"]


class UnknownHostException(Exception):
    """A host name that does not resolve."""


class ConnectionErrorException(Exception):
    """A connection refused or timed out."""


class AuthenticationException(Exception):
    """Wrong user, password or key."""

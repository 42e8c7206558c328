__all__ = ["InvalidCredentialsException", "NoHostsConnectedToException"]


class InvalidCredentialsException(Exception):
    pass


class NoHostsConnectedToException(Exception):
    pass

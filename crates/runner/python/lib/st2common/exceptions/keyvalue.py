from st2common.exceptions import StackStormBaseException

__all__ = ["CryptoKeyNotSetupException", "InvalidScopeException"]


class CryptoKeyNotSetupException(StackStormBaseException):
    pass


class InvalidScopeException(StackStormBaseException):
    pass

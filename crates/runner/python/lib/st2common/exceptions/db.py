from st2common.exceptions import StackStormBaseException

__all__ = ["StackStormDBObjectNotFoundError", "StackStormDBObjectMalformedError"]


class StackStormDBObjectNotFoundError(StackStormBaseException):
    pass


class StackStormDBObjectMalformedError(StackStormBaseException):
    pass

from st2common.exceptions import StackStormBaseException

__all__ = ["ValueValidationException"]


class ValueValidationException(StackStormBaseException):
    pass

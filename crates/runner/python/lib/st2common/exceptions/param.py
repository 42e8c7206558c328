from st2common.exceptions import StackStormBaseException

__all__ = ["ParamException"]


class ParamException(StackStormBaseException):
    pass

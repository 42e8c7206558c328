from st2common.exceptions import StackStormPluginException

__all__ = [
    "ActionRunnerException",
    "ActionRunnerCreateError",
    "ActionRunnerDispatchError",
    "ActionRunnerPreRunError",
]


class ActionRunnerException(StackStormPluginException):
    pass


class ActionRunnerCreateError(ActionRunnerException):
    pass


class ActionRunnerDispatchError(ActionRunnerException):
    pass


class ActionRunnerPreRunError(ActionRunnerException):
    pass

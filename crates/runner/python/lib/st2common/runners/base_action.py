"""The base class of StackStorm Python actions (`st2common.runners.base_action.Action`)."""

import abc

from st2common.runners.utils import get_logger_for_python_runner_action

__all__ = ["Action"]


class Action(metaclass=abc.ABCMeta):
    """Base class of StackStorm Python actions: `self.config` (the pack config),
    `self.action_service` (the datastore) and `self.logger` (stderr, at the
    execution's `log_level`); subclasses implement `run(**parameters)`."""

    description = None

    def __init__(self, config=None, action_service=None):
        self.config = config or {}
        self.action_service = action_service
        wrapper = getattr(action_service, "_action_wrapper", None)
        log_level = getattr(wrapper, "_log_level", "debug")
        self.logger = get_logger_for_python_runner_action(
            action_name=self.__class__.__name__, log_level=log_level
        )

    @abc.abstractmethod
    def run(self, **kwargs):
        raise NotImplementedError()

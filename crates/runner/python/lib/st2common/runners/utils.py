"""Helpers of StackStorm's `st2common.runners.utils` that actions see."""

import logging
import sys

from st2common import log as st2_logging

__all__ = ["get_logger_for_python_runner_action"]

_LOGGERS = {}


def get_logger_for_python_runner_action(action_name, log_level="debug"):
    """The action's logger, `st2.actions.python.<action_name>`, writing to stderr at `log_level`."""
    logger_name = "actions.python.%s" % (action_name)
    if logger_name in _LOGGERS:
        return _LOGGERS[logger_name]
    level_name = str(log_level or "debug").upper()
    if level_name == "AUDIT":
        level = st2_logging.AUDIT
    else:
        level = getattr(logging, level_name, logging.DEBUG)
    logger = st2_logging.getLogger(logger_name)
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter("%(name)-12s: %(levelname)-8s %(message)s"))
    logger.addHandler(console)
    logger.setLevel(level)
    logger.propagate = False
    _LOGGERS[logger_name] = logger
    return logger

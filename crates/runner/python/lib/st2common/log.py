"""StackStorm's logging entry point (`st2common.log`): loggers named `st2.<name>`
with an `audit()` method at the AUDIT level (above CRITICAL)."""

import logging

__all__ = ["getLogger", "AUDIT"]

AUDIT = logging.CRITICAL + 10
logging.AUDIT = AUDIT
logging.addLevelName(AUDIT, "AUDIT")

_PREFIX = "st2."


def _audit(self, msg, *args, **kwargs):
    if self.isEnabledFor(AUDIT):
        self._log(AUDIT, msg, args, **kwargs)


if not hasattr(logging.Logger, "audit"):
    logging.Logger.audit = _audit


def getLogger(name):  # noqa: N802 (StackStorm's name)
    """The logger `st2.<name>` (the prefix is not doubled)."""
    if not name.startswith(_PREFIX):
        name = _PREFIX + name
    return logging.getLogger(name)

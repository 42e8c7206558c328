"""StackStorm's exception roots (`st2common.exceptions`)."""


class StackStormBaseException(Exception):
    """Root of StackStorm's exceptions."""


class StackStormPluginException(StackStormBaseException):
    """Root of the exceptions a StackStorm plug-in API defines."""

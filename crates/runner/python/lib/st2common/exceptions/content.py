from st2common.exceptions import StackStormBaseException

__all__ = ["UnsupportedMetaException", "ParseException", "ResourceDiskFilesRemovalError"]


class UnsupportedMetaException(StackStormBaseException):
    pass


class ParseException(ValueError):
    pass


class ResourceDiskFilesRemovalError(StackStormBaseException):
    pass

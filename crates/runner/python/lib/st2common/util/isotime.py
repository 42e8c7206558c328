"""ISO 8601 helpers from StackStorm's `st2common.util.isotime`."""

import datetime
import re

from st2common.util import date as date_utils

__all__ = ["get_datetime_utc_now", "add_utc_tz", "format", "validate", "parse"]

ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%S"
ISO8601_FORMAT_MICROSECOND = "%Y-%m-%dT%H:%M:%S.%f"
ISO8601_UTC_REGEX = (
    r"^\d{4}\-\d{2}\-\d{2}(\s|T)\d{2}:\d{2}:\d{2}(\.\d{3,6})?(Z|\+00|\+0000|\+00:00)$"
)

get_datetime_utc_now = date_utils.get_datetime_utc_now
add_utc_tz = date_utils.add_utc_tz


def format(dt, usec=True, offset=True):  # noqa: A001 (StackStorm's name)
    """`dt` (a datetime or an ISO 8601 UTC string) as ISO 8601 text."""
    if isinstance(dt, str):
        dt = parse(dt)
    fmt = ISO8601_FORMAT_MICROSECOND if usec else ISO8601_FORMAT
    if offset:
        ost = dt.strftime("%z")
        ost = (ost[:3] + ":" + ost[3:]) if ost else "+00:00"
    else:
        tz = dt.tzinfo.tzname(dt) if dt.tzinfo else "UTC"
        ost = "Z" if tz == "UTC" else tz
    return dt.strftime(fmt) + ost


def validate(value, raise_exception=True):
    """True for a datetime or a string in ISO 8601 UTC form; else ValueError (or False)."""
    if isinstance(value, datetime.datetime) or (
        isinstance(value, str) and re.match(ISO8601_UTC_REGEX, value)
    ):
        return True
    if raise_exception:
        raise ValueError("Datetime value does not match expected format.")
    return False


def parse(value):
    """An ISO 8601 UTC string (validated first) as a timezone-aware datetime."""
    validate(value, raise_exception=True)
    dt = date_utils.parse(str(value), preserve_original_tz=True)
    return dt if dt.tzinfo else add_utc_tz(dt)

"""Date helpers from StackStorm's `st2common.util.date` (UTC-aware datetimes)."""

import datetime

try:
    import dateutil.parser as _dateutil_parser
    import dateutil.tz as _dateutil_tz

    _UTC = _dateutil_tz.tzutc()
except ImportError:  # the base layer has python-dateutil; plain Python falls back
    _dateutil_parser = None
    _UTC = datetime.timezone.utc

__all__ = ["get_datetime_utc_now", "add_utc_tz", "convert_to_utc", "parse"]


def get_datetime_utc_now():
    """The current time with the UTC timezone attached."""
    return datetime.datetime.now(tz=_UTC)


def add_utc_tz(dt):
    """`dt` marked as UTC; ValueError when it already carries another offset."""
    if dt.tzinfo and dt.tzinfo.utcoffset(dt) != datetime.timedelta(0):
        raise ValueError("datetime already contains a non UTC timezone")
    return dt.replace(tzinfo=_UTC)


def convert_to_utc(dt):
    """`dt` in UTC; a naive datetime is taken to be UTC already."""
    if not dt.tzinfo:
        return add_utc_tz(dt)
    return dt.astimezone(_UTC)


def parse(value, preserve_original_tz=False):
    """A date string as an aware datetime, converted to UTC unless `preserve_original_tz`."""
    text = str(value)
    if _dateutil_parser is not None:
        dt = _dateutil_parser.parse(text)
    else:
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        dt = datetime.datetime.fromisoformat(text)
    if not dt.tzinfo:
        dt = add_utc_tz(dt)
    if not preserve_original_tz:
        dt = convert_to_utc(dt)
    return dt

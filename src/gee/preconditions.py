"""Conditional requests (RFC 9110 section 13): entity tags, HTTP dates, and the order preconditions are tested in.

``evaluate`` answers for a representation whose validators are a strong entity tag and a modification time,
as ``c.file`` has them, in the order of RFC 9110 section 13.2.2: ``If-Match``, else ``If-Unmodified-Since``
(412 when false); then ``If-None-Match``, else ``If-Modified-Since`` for GET and HEAD (304 when false, 412 for
other methods). ``range_allowed`` is the ``If-Range`` test (section 13.1.5) that decides whether a ``Range``
applies. A field that cannot be parsed is ignored, as the RFC requires of dates (section 13.1.3).
"""

from __future__ import annotations

import calendar
import datetime
import re
import time
from collections.abc import Mapping

_MONTHS = {"Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "May": 5, "Jun": 6}
_MONTHS |= {"Jul": 7, "Aug": 8, "Sep": 9, "Oct": 10, "Nov": 11, "Dec": 12}
_TIME = r"(\d\d):(\d\d):(\d\d)"
_MONTH = "(" + "|".join(_MONTHS) + ")"
# RFC 9110 section 5.6.7: IMF-fixdate, then the two obsolete forms a recipient must accept.
_IMF_FIXDATE = re.compile(rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) {_MONTH} (\d{{4}}) {_TIME} GMT", re.ASCII)
_RFC850 = re.compile(
    rf"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-{_MONTH}-(\d\d) {_TIME} GMT", re.ASCII
)
_ASCTIME = re.compile(rf"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) {_MONTH} ([ \d]\d) {_TIME} (\d{{4}})", re.ASCII)
_ENTITY_TAG = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')


def parse_http_date(value: str) -> int | None:
    """Seconds since the epoch of an HTTP-date (RFC 9110 section 5.6.7), or None when ``value`` is not one."""
    value = value.strip()
    if match := _IMF_FIXDATE.fullmatch(value):
        day, month, year, hour, minute, second = match.groups()
    elif match := _ASCTIME.fullmatch(value):
        month, day, hour, minute, second, year = match.groups()
    elif match := _RFC850.fullmatch(value):
        day, month, short_year, hour, minute, second = match.groups()
        # A two-digit year more than 50 years ahead is the latest past year with those digits (section 5.6.7).
        this_year = time.gmtime().tm_year
        year = str(this_year // 100 * 100 + int(short_year))
        if int(year) > this_year + 50:
            year = str(int(year) - 100)
    else:
        return None
    try:
        moment = datetime.datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second))
    except ValueError:  # 31 Feb, 25:00 and the like
        return None
    return calendar.timegm(moment.timetuple())


def _entity_tags(field: str) -> list[tuple[bool, str]] | None:
    """``(weak, opaque-tag)`` for each entity-tag of a list (RFC 9110 section 8.8.3); None for ``*``;
    parsing stops at the first element that is not an entity-tag."""
    if field.strip() == "*":
        return None
    tags = []
    position = 0
    while position < len(field):
        if field[position] in " \t,":
            position += 1
            continue
        match = _ENTITY_TAG.match(field, position)
        if match is None:
            break
        tags.append((match.group(1) is not None, match.group(2)))
        position = match.end()
    return tags


def _matches(field: str, etag: str, *, weak: bool) -> bool:
    """Whether a list field names ``etag`` (a strong tag), by weak or strong comparison (section 8.8.3.2);
    ``*`` names any current representation."""
    tags = _entity_tags(field)
    if tags is None:
        return True
    return any(opaque == etag and (weak or not is_weak) for is_weak, opaque in tags)


def evaluate(headers: Mapping[str, str], method: str, etag: str, modified: int) -> int | None:
    """The status that answers instead of the representation, 412 or 304, or None to send it.

    ``etag`` is the representation's strong entity tag, ``modified`` its ``Last-Modified`` in whole seconds.
    """
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _matches(if_match, etag, weak=False):
            return 412
    else:
        since = _date(headers, "if-unmodified-since")
        if since is not None and modified > since:
            return 412
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        if _matches(if_none_match, etag, weak=True):
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = _date(headers, "if-modified-since")
        if since is not None and modified <= since:
            return 304
    return None


def range_allowed(headers: Mapping[str, str], etag: str, modified: int) -> bool:
    """Whether a ``Range`` applies: no ``If-Range``, or one that names the representation by its strong entity
    tag or its exact modification date (RFC 9110 section 13.1.5; a weak tag never matches)."""
    if_range = headers.get("if-range")
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(('"', "W/")):
        return value == etag
    return parse_http_date(value) == modified


def _date(headers: Mapping[str, str], name: str) -> int | None:
    value = headers.get(name)
    return None if value is None else parse_http_date(value)

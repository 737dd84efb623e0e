"""Timestamps: RFC 3339 in, one fixed UTC form out (`YYYY-MM-DDTHH:MM:SS.ffffffZ`).

The fixed form has a four-digit year, so times compare correctly as strings everywhere
after parsing (strftime does not zero-pad years below 1000 on every platform).
"""

from __future__ import annotations

from datetime import UTC, datetime


class TimeFormatError(ValueError):
    """A timestamp that is not RFC 3339 with an offset, or outside the representable range."""


def format_time(moment: datetime) -> str:
    m = moment.astimezone(UTC)
    return (f"{m.year:04d}-{m.month:02d}-{m.day:02d}T{m.hour:02d}:{m.minute:02d}:"
            f"{m.second:02d}.{m.microsecond:06d}Z")


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 timestamp with an explicit offset; naive times are refused."""
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
        if moment.tzinfo is None:
            raise TimeFormatError(f"has no time zone offset: {value!r}")
        return moment.astimezone(UTC)
    except TimeFormatError:
        raise
    except (ValueError, OverflowError):
        raise TimeFormatError(f"is not an RFC 3339 timestamp: {value!r}") from None

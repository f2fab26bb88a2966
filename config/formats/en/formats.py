"""English dates and times in the console: ISO order, 24-hour clock (as before translation came)."""

DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = "Y-m-d"
DATETIME_FORMAT = "Y-m-d H:i:s"
SHORT_DATETIME_FORMAT = "Y-m-d H:i"
TIME_FORMAT = "H:i:s"
MONTH_DAY_FORMAT = "j F"
LONG_EVENT_FORMAT = "D j M Y, H:i"

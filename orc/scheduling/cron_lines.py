"""The time fields of the suite's own crontab lines, read and checked with python-crontab.

python-crontab knows cron's field ranges and names (``61 * * * *`` and ``*/0`` are
refused, ``mon-fri`` and ``jan`` understood), so the suite leans on it to check every
schedule it writes and to read back the schedule of a line it finds. It never writes
a crontab here: rendering a whole table with it rewrites the user's lines (``0 0 * * *``
becomes ``@daily``, ``%%`` gains a space, an unparseable line is commented out), and the
user's lines must stay byte for byte (docs/scheduling.md). orc.scheduling.crontab_store keeps
writing; this module only answers "is this schedule one cron will keep, and how is it
written".
"""

from __future__ import annotations

from crontab import CronSlices  # type: ignore[import-untyped]  # the package ships no type hints

SPECIAL = ("@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def schedule_problem(schedule: str) -> str | None:
    """Why ``schedule`` is not five valid cron fields or an @-word, or None when it is."""
    text = " ".join(schedule.split())
    if text in SPECIAL:
        return None
    if len(text.split(" ")) != 5:
        return f"schedule {schedule!r} is not five cron fields or one of {', '.join(SPECIAL)}"
    if not CronSlices.is_valid(text):
        return (f"schedule {schedule!r} has a field out of range or unreadable "
                "(minute 0-59, hour 0-23, day 1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat)")
    return None


def normal_schedule(schedule: str) -> str:
    """The schedule as the suite writes it: single spaces, our own spelling kept (``0 0 * * *``
    stays as given; python-crontab's renderer would turn it into ``@daily``)."""
    return " ".join(schedule.split())

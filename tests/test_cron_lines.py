"""python-crontab reads and checks the suite's own schedules; it never writes the user's lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from crontab import CronTab

from orc.scheduling.cron_lines import normal_schedule, schedule_problem
from orc.scheduling.crontab_store import BadCronJob, CrontabStore, render_line
from orc.teams.project_config import MAX_INTERVAL, MIN_INTERVAL, cron_keeps, cron_schedule

PY = "/usr/bin/python3"
# Seven kinds of line a person may have, each one that python-crontab's renderer changes or
# that a careless editor breaks; the last one has no final newline.
SEVEN = (
    "0 0 * * * /usr/bin/daily-report\n"
    "* * * * * echo 100%% done >> /tmp/never-run-by-tests\n"
    "30 2 * * 1 /usr/bin/weekly # my weekly job\n"
    "this line is not a cron line at all\n"
    "@reboot /usr/bin/startup\n"
    "MAILTO=me@example.com\n"
    "*/15 9-17 * * mon-fri /usr/bin/poll --quiet"
)


@pytest.mark.parametrize("schedule", ["61 * * * *", "*/0 * * * *", "0 24 * * *", "0 0 32 * *", "0 0 * 13 *",
                                      "0 0 * * 8"])
def test_out_of_range_fields_are_refused_before_a_line_is_written(schedule: str) -> None:
    assert schedule_problem(schedule) is not None
    with pytest.raises(BadCronJob, match="out of range"):
        render_line("bk-x", schedule, [PY, "-V"])


@pytest.mark.parametrize("schedule", ["0 0 * * *", "*/15 9-17 * * 1-5", "5 4 * jan *", "17 14 24 11 *",
                                      "@reboot", "@daily", "0,30 * * * *"])
def test_good_schedules_pass_and_keep_our_spelling(schedule: str) -> None:
    assert schedule_problem(schedule) is None
    assert render_line("bk-x", schedule, [PY, "-V"]).schedule == schedule  # never rewritten to @daily


def test_every_schedule_cron_schedule_can_produce_is_valid_to_python_crontab() -> None:
    for seconds in range(MIN_INTERVAL, MAX_INTERVAL + 1, 60):
        if not cron_keeps(seconds):
            continue
        for seed in ("webapp", "api", "x", "a-much-longer-project-name"):
            schedule = cron_schedule(seconds, seed)
            assert schedule_problem(schedule) is None, (seconds, seed, schedule)
            assert normal_schedule(schedule) == schedule


def test_the_seven_kinds_of_user_line_stay_byte_for_byte(tmp_path: Path) -> None:
    table = tmp_path / "crontab"
    table.write_text(SEVEN)
    # What python-crontab would do with the table if it were allowed to write it:
    rendered = CronTab(tab=SEVEN).render()
    assert "@daily /usr/bin/daily-report" in rendered and "# this line is not a cron line" in rendered
    assert rendered != SEVEN + "\n"

    store = CrontabStore(tmp_path / "state", crontab_file=table)
    store.add("bk-webapp", "0 0 * * *", [PY, "/suite/orc", "integration", "backup", "webapp"], info="backup")
    store.add("ck-0123abcd", "*/15 9-17 * * 1-5", [PY, "-V"])
    text = table.read_text()
    assert text.startswith(SEVEN + "\n")  # the user's lines first, untouched (a newline added after the last)
    assert [job.schedule for job in store.jobs()] == ["0 0 * * *", "*/15 9-17 * * 1-5"]
    store.remove(["bk-webapp", "ck-0123abcd"])
    assert table.read_text() == SEVEN + "\n"

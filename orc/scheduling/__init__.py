"""Check-ins: their records, the crontab store (the one path to cron), the cron lines, firing
them on time (fire.py), where the suite lives (home.py), and the schedule_with_note.sh
command. Built on orc.core, orc.record and orc.messages."""

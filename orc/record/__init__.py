"""The agent record: what an agent is doing, read from its own record first (Claude Code's
session registry and transcript, the suite's hooks) and its screen otherwise; the screen
patterns of each agent CLI (profiles/), usage limits, process groups, and the pane snapshot
that joins them (snapshot.py). Built on orc.core only."""

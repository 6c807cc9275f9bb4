"""A conversation that will not resume: bounded resume loops (docs/workflow.md, "Resume").

An agent whose conversation is broken (a transcript Claude Code cannot load, a session that
makes it exit at once) dies right after every ``--resume``. Whoever brings it back (a person,
the orchestrator agent, ``up --boot`` after a reboot) would resume it again and again. So each
resume is written down, in ``<state>/projects/<project>/resumes/<role>.txt``, one line
``<epoch> <session id> <verdict>`` each. The verdict is given at the next start: ``died`` when
the agent is gone by then and its last sign of life (its hooks' latest report) came after the
resume and within ``QUICK_DEATH_SECONDS`` of it, else ``lived``. After ``ORC_RESUME_TRIES`` resumes of one
session in a row that died, the next start is fresh, with the full briefing, and a person is
told (reason ``resume-loop``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from orc.core.settings import Settings
from orc.core.state import write_private_text
from orc.record.hook_events import agent_reports
from orc.teams.project_config import Member, Project

#: A resumed agent that is gone, and whose last report came this soon after the resume, died of it.
QUICK_DEATH_SECONDS = 120.0
KEPT_LINES = 20


@dataclass(frozen=True)
class Resumed:
    at: float
    session: str
    verdict: str  # "-" (not known yet), "died", "lived"


def record_path(settings: Settings, project: Project, member: Member) -> Path:
    return settings.state_dir / "projects" / project.name / "resumes" / f"{member.role}.txt"


def _read(path: Path) -> list[Resumed]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            try:
                found.append(Resumed(float(parts[0]), parts[1], parts[2]))
            except ValueError:
                continue
    return found


def _write(path: Path, history: list[Resumed]) -> None:
    write_private_text(path, "".join(f"{r.at:.3f} {r.session} {r.verdict}\n" for r in history[-KEPT_LINES:]))


def resumes_that_died(settings: Settings, project: Project, member: Member, label: str, session: str,
                      agent_gone: bool) -> int:
    """Give the last resume its verdict, and count the resumes of ``session`` in a row, from
    the latest back, that the agent died right after."""
    path = record_path(settings, project, member)
    history = _read(path)
    if history and history[-1].verdict == "-":
        last = history[-1]
        report = agent_reports(settings.state_dir).get(label)
        # Died of it: it did run after the resume (a report since), and not for long. No report
        # since means the resume never got as far as starting it (the starter was killed).
        seen = report.at if report is not None else 0.0
        died = agent_gone and last.session == session and last.at <= seen <= last.at + QUICK_DEATH_SECONDS
        history[-1] = Resumed(last.at, last.session, "died" if died else "lived")
        _write(path, history)
    count = 0
    for resumed in reversed(history):
        if resumed.session != session or resumed.verdict != "died":
            break
        count += 1
    return count


def note_resume(settings: Settings, project: Project, member: Member, session: str, at: float) -> None:
    """Write down that ``session`` is resumed now; its verdict comes at the next start."""
    path = record_path(settings, project, member)
    _write(path, _read(path) + [Resumed(at, session, "-")])


def forget_resumes(settings: Settings, project: Project, member: Member) -> None:
    """A fresh start: the count begins again."""
    record_path(settings, project, member).unlink(missing_ok=True)

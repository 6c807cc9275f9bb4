"""A team's crontab lines: its git backup, its recurring check-ins, the per-minute attention check.

Every line goes through the crontab store (orc/scheduling/crontab_store.py), which keeps the person's
own lines byte for byte; each of ours is replaced, never duplicated, so ``deploy`` and ``up``
run twice leave the crontab as it was (docs/scheduling.md).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from orc.teams.project_config import Project, cron_schedule
from orc.core.settings import Settings


def suite_command(settings: Settings) -> str:
    return f"python3 {settings.suite_dir}/orchestrator_integration.py"



def backup_job_id(project: Project) -> str:
    return f"bk-{project.name}"


def _cron_env(settings: Settings, config_file: Path | None = None) -> dict[str, str]:
    git_bin = shutil.which("git")
    path_dirs = [str(Path(git_bin).parent)] if git_bin else []
    path_dirs += [d for d in ("/usr/local/bin", "/usr/bin", "/bin") if d not in path_dirs]
    return {
        "ORC_STATE_DIR": str(settings.state_dir),
        "ORC_PROJECT_CONFIG": str(config_file or settings.project_config),
        "PATH": ":".join(path_dirs),  # cron's PATH is /usr/bin:/bin (docs/scheduling.md, "Cron's bare environment"); git may live elsewhere
    }


def checkin_note(settings: Settings, project: Project) -> str:
    return (f"Scheduled check-in for {project.name} (every {project.check_in_interval // 60} minutes). "
            f"Run `{suite_command(settings)} status {project.name}`, then check on each engineer, "
            f"make sure work is committed, and update your plan.")


def install_schedules(settings: Settings, project: Project, config_file: Path | None = None) -> list[str]:
    """Put ``project``'s backup line and its recurring check-in in place (replacing, never duplicating)."""
    from orc.scheduling.crontab_store import CrontabStore

    store = CrontabStore.from_settings(settings)
    minutes = project.git_commit_interval // 60
    job = store.add(
        backup_job_id(project), cron_schedule(project.git_commit_interval, project.name),
        [sys.executable, str(settings.suite_dir / "orc"), "integration", "backup", project.name],
        env=_cron_env(settings, config_file), log=settings.state_dir / "cron.log",
        info=f"git backup of {project.name} every {minutes}m",
    )
    done = [f"{job.job_id}: {job.schedule}"]
    done.append(install_attention_check(settings, config_file))
    target = project.target(project.manager)
    every = project.check_in_interval / 60
    done.append(ensure_recurring_checkin(settings, target, every, checkin_note(settings, project),
                                         f"check-in to {target}"))
    return done


def ensure_recurring_checkin(settings: Settings, target: str, every: float, note: str, what: str) -> str:
    """Exactly one recurring check-in to ``target`` every ``every`` minutes: one already
    pending at that interval is kept (so deploy and up run twice change nothing), others to
    the same target are cancelled. Returns one line saying which."""
    from orc.scheduling.checkins import cancel_checkins, pending_checkins, schedule_checkin

    ours = [c for c in pending_checkins(settings) if c.target == target and c.every_minutes]
    keep = [c for c in ours if c.every_minutes == every]
    stale = [c.id for c in ours if c.every_minutes != every] + [c.id for c in keep[1:]]
    if stale:
        cancel_checkins(settings, stale)
    if keep:
        return f"{keep[0].id}: {what} every {every:g}m (kept)"
    made = schedule_checkin(settings, every, note, target, every_minutes=every)
    return f"{made.id}: {what} every {every:g}m"


def install_attention_check(settings: Settings, config_file: Path | None = None) -> str:
    """The per-minute ``attention check`` line (one per suite, whatever the number of projects)."""
    from orc.teams.attention import check_job_id
    from orc.scheduling.crontab_store import CrontabStore

    env = _cron_env(settings, config_file)
    # The check reads tmux and messages the orchestrator: it needs the same server and target,
    # and the person's notify settings, which cron's bare environment would not have.
    env.update(ORC_TMUX_SOCKET=str(settings.tmux_socket), ORC_TMUX_BIN=settings.tmux_bin,
               ORC_DEFAULT_TARGET=settings.default_target, ORC_ATTENTION_SECONDS=str(settings.attention_seconds))
    if settings.notify_command:
        env["ORC_NOTIFY_COMMAND"] = settings.notify_command
    job = CrontabStore.from_settings(settings).add(
        check_job_id(settings), "* * * * *",
        [sys.executable, str(settings.suite_dir / "orc"), "integration", "attention", "check"],
        env=env, log=settings.state_dir / "cron.log", info="attention check every minute",
    )
    return f"{job.job_id}: attention check every minute"


def remove_attention_check_if_unused(settings: Settings, projects: list[Project]) -> list[str]:
    """Remove the per-minute check once no project of the file has its backup line any more."""
    from orc.teams.attention import check_job_id
    from orc.scheduling.crontab_store import CrontabStore

    store = CrontabStore.from_settings(settings)
    running = {job.job_id for job in store.jobs()} & {backup_job_id(p) for p in projects}
    if running:
        return []
    return store.remove([check_job_id(settings)])


def remove_schedules(settings: Settings, project: Project) -> list[str]:
    """Remove ``project``'s backup line and every pending check-in to its session."""
    from orc.scheduling.checkins import cancel_checkins, pending_checkins
    from orc.scheduling.crontab_store import CrontabStore

    removed = CrontabStore.from_settings(settings).remove([backup_job_id(project)])
    ids = [c.id for c in pending_checkins(settings) if c.target.split(":", 1)[0].lstrip("=") == project.session]
    if ids:
        removed += cancel_checkins(settings, ids)
    return removed

"""A team's crontab lines: its git backup, its recurring check-ins, the per-minute attention check.

Every line goes through the crontab store (orc/scheduling/crontab_store.py), which keeps the person's
own lines byte for byte; each of ours is replaced, never duplicated, so ``deploy`` and ``up``
run twice leave the crontab as it was (docs/scheduling.md).
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from orc.teams.project_config import Project, cron_schedule
from orc.core.settings import Settings

if TYPE_CHECKING:
    from orc.scheduling.crontab_store import CronJob


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
    done.append(install_boot_line(settings, config_file))
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


# --- the @reboot line: `up --boot` brings the teams back (docs/workflow.md, "After a reboot") ---


def deployed_backup_ids(settings: Settings) -> set[str]:
    """The ids of this state folder's backup lines in the crontab: one per deployed project.
    Another folder's team of the same name is that folder's business."""
    from orc.scheduling.crontab_store import CrontabStore, parse_command

    ours = set()
    for job in CrontabStore.from_settings(settings).jobs():
        parsed = parse_command(job)
        if job.job_id.startswith("bk-") and parsed is not None and parsed.env.get("ORC_STATE_DIR") == str(settings.state_dir):
            ours.add(job.job_id)
    return ours


def deployed_projects(settings: Settings, projects: list[Project]) -> list[Project]:
    """The projects of ``projects`` this state folder has deployed: those whose backup line is in
    the crontab. ``stop`` removes that line, so a team a person stopped is not among them."""
    ours = deployed_backup_ids(settings)
    return [p for p in projects if backup_job_id(p) in ours]


def _boot_env(settings: Settings, config_file: Path | None) -> dict[str, str]:
    """What ``up --boot`` needs from cron's bare environment: the state folder, project file and
    crontab it works with, the tmux server and the orchestrator's target, the notify command,
    and a PATH and locale under which the agents it starts run as they did when deployed."""
    env = _cron_env(settings, config_file)
    if settings.crontab_file is not None:
        env["ORC_CRONTAB_FILE"] = str(settings.crontab_file)
    if settings.crontab_bin:
        env["ORC_CRONTAB_BIN"] = shutil.which(settings.crontab_bin) or settings.crontab_bin
    env.update(ORC_TMUX_SOCKET=str(settings.tmux_socket), ORC_TMUX_BIN=shutil.which(settings.tmux_bin) or settings.tmux_bin,
               ORC_DEFAULT_TARGET=settings.default_target)
    if settings.notify_command:
        env["ORC_NOTIFY_COMMAND"] = settings.notify_command
    # The agents are started by the tmux server this process starts, with its environment:
    # cron's PATH has no `claude` (nor node); the deployer's PATH comes along (shortened below
    # when the line would be too long). Without a UTF-8 locale tmux draws no `❯`.
    env["PATH"] = os.environ.get("PATH") or env["PATH"]
    for name in ("LANG", "LC_ALL"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


def boot_line(settings: Settings, config_file: Path | None = None) -> CronJob:
    """The ``@reboot`` line that runs ``up --boot`` for this state folder."""
    from orc.scheduling.checkins import team_boot_id
    from orc.scheduling.crontab_store import BadCronJob, render_line

    env = _boot_env(settings, config_file)
    argv = [sys.executable, str(settings.suite_dir / "orc"), "integration", "up", "--boot"]
    info = "brings the deployed teams back after a reboot, then delivers what was missed"
    try:
        return render_line(team_boot_id(settings), "@reboot", argv, env=env, log=settings.state_dir / "cron.log",
                           info=info)
    except BadCronJob:
        # Too long with the deployer's whole PATH: the short one (git's folder and the system's),
        # plus the folders of tmux and Claude Code.
        short = _cron_env(settings, config_file)["PATH"].split(":")
        for program in (settings.tmux_bin, settings.claude_bin or "", *shlex.split(settings.agent_command)[:1]):
            found = shutil.which(program) if program else None
            if found and str(Path(found).parent) not in short:
                short.insert(0, str(Path(found).parent))
        env["PATH"] = ":".join(short)
        return render_line(team_boot_id(settings), "@reboot", argv, env=env, log=settings.state_dir / "cron.log",
                           info=info)


def install_boot_line(settings: Settings, config_file: Path | None = None) -> str:
    """Put this state folder's ``@reboot`` line for ``up --boot`` in place (one, replaced, never
    duplicated), and in the same write take out the sweep's own ``@reboot`` line, which the
    boot runs itself once the teams are back (orc/scheduling/checkins.py, team_boot_id)."""
    from orc.scheduling.checkins import sweep_ids
    from orc.scheduling.crontab_store import CrontabStore

    job = boot_line(settings, config_file)

    def put(jobs: dict[str, CronJob]) -> None:
        jobs[job.job_id] = job
        jobs.pop(sweep_ids(settings)[1], None)

    CrontabStore.from_settings(settings).edit(put)
    return f"{job.job_id}: @reboot up --boot"


def ensure_boot_line_if_deployed(settings: Settings, config_file: Path | None = None) -> str:
    """``up``'s part: the ``@reboot`` line while any team of this state folder is deployed."""
    if not deployed_backup_ids(settings):
        return "no team deployed: no @reboot line (deploy puts it in)"
    return install_boot_line(settings, config_file)


def remove_boot_line_if_unused(settings: Settings) -> list[str]:
    """Remove the ``@reboot`` line once no team of this state folder is deployed any more; the
    sweep's own ``@reboot`` line comes back if check-ins or kept messages are pending."""
    from orc.scheduling.checkins import sync_crontab, team_boot_id
    from orc.scheduling.crontab_store import CrontabStore

    if deployed_backup_ids(settings):
        return []
    removed = CrontabStore.from_settings(settings).remove([team_boot_id(settings)])
    if removed:
        sync_crontab(settings)
    return removed

"""Git actions run for a project: backup, tests, stable tags and task branches.

Everything here goes through orc.gitops (the one path to git) and runs under the
project's git lock (``git-<project>``) where it changes the repository, so a backup
fired by cron never runs in the middle of another action on the same repository.
orc.team keeps the agents in tmux; this module keeps their repositories.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime

from orc import gitops
from orc.locks import named_lock
from orc.project_config import Project
from orc.settings import Settings
from orc.state import log_event, private_dir
from orc.status import write_record


def run_backup(settings: Settings, project: Project, why: str = "timer") -> gitops.BackupResult:
    """One backup of ``project`` under its lock, recorded for status and in ``git.log``."""
    scratch = private_dir(settings.state_dir / "tmp")
    try:
        with named_lock(settings.state_dir, f"git-{project.name}", 300):
            result = gitops.backup(project.path, max_files=project.max_files_per_commit, scratch_dir=scratch)
    except gitops.GitError as exc:
        result = gitops.BackupResult(None, None, 0, f"failed: {exc}")
    write_record(settings, project.name, "last-backup", {
        "at": time.time(), "ok": result.committed is not None or result.reason.startswith("skipped: nothing"),
        "commit": result.committed, "ref": result.ref, "files": result.files, "reason": result.reason,
    })
    log_event(settings.state_dir / "git.log", "backup", project=project.name, why=why,
              result="committed" if result.committed else "skipped", commit=result.committed,
              files=result.files, reason=result.reason)
    return result


@dataclass(frozen=True)
class StableResult:
    tested: bool
    passed: bool
    tag: str | None
    detail: str


def run_tests(settings: Settings, project: Project, timeout: float) -> tuple[bool, str]:
    """Run ``test_command`` in the project folder; record the outcome for status."""
    command = project.test_command
    assert command is not None
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    started = time.time()
    try:
        done = subprocess.run(argv, cwd=project.path, capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
        passed, code = done.returncode == 0, done.returncode
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    except subprocess.TimeoutExpired:
        passed, code, tail = False, -1, [f"timed out after {timeout:g}s"]
    except OSError as exc:
        passed, code, tail = False, -1, [f"could not run: {exc}"]
    write_record(settings, project.name, "last-test", {
        "at": started, "ok": passed, "exit": code, "command": project.test_command_text,
        "seconds": round(time.time() - started, 1), "tail": tail,
    })
    log_event(settings.state_dir / "git.log", "tests", project=project.name, ok=passed, exit=code)
    summary = f"`{project.test_command_text}` {'passed' if passed else f'failed (exit {code})'}"
    if not passed and tail:
        summary += ": " + " | ".join(tail[-3:])
    return passed, summary


def run_stable(settings: Settings, project: Project, timeout: float) -> StableResult:
    """Test, then tag HEAD ``stable-<feature>-<date>``; with require_tests, no tag unless they pass."""
    repo = project.path
    dirty = gitops.tracked_changes(repo)
    if dirty:
        return StableResult(False, False, None, f"{len(dirty)} uncommitted change(s) to tracked files "
                            f"({', '.join(dirty[:5])}): commit first, so the tag marks what was tested")
    tested = passed = False
    detail = "no test_command configured"
    if project.test_command is not None:
        tested = True
        passed, detail = run_tests(settings, project, timeout)
    if not passed and project.require_tests:
        return StableResult(tested, passed, None, f"{detail}; not tagged (require_tests is true)")
    branch = gitops.current_branch(repo) or "detached"
    feature = gitops.tag_part(branch.removeprefix(project.branch_prefix))
    tag = f"stable-{feature}-{datetime.now():%Y%m%d-%H%M%S}"
    commit = gitops.tag_head(repo, tag)
    note = "" if passed else " (tests did not pass; tagged because require_tests is false)"
    log_event(settings.state_dir / "git.log", "stable", project=project.name, tag=tag, commit=commit[:12])
    return StableResult(tested, passed, tag, f"{detail}; tagged {commit[:12]} as {tag}{note}")


TASK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,59}")


class BadTaskName(ValueError):
    """A task name that cannot become part of a branch name."""


def task_branch_name(project: Project, task: str) -> str:
    """``<branch_prefix><task>``, or BadTaskName when ``task`` cannot be part of a branch name."""
    if not TASK_NAME.fullmatch(task) or ".." in task or task.endswith(".lock"):
        raise BadTaskName(f"task name {task!r} is not usable in a branch name; use letters, digits, "
                          f"'.', '_' or '-' (e.g. login-form)")
    return project.branch_prefix + task


def create_task_branch(project: Project, task: str) -> str:
    """Create and switch to ``<branch_prefix><task>`` from a clean state; return its name.

    Raises BadTaskName for an unusable name and gitops.GitError when git refuses.
    """
    name = task_branch_name(project, task)
    gitops.create_branch(project.path, name)
    return name

"""Git actions run for a project: backup, tests, stable tags and task branches.

Everything here goes through orc.core.gitops (the one path to git) and runs under the
project's git lock (``git-<project>``) where it changes the repository, so a backup
fired by cron never runs in the middle of another action on the same repository.
orc.teams.team keeps the agents in tmux; this module keeps their repositories.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orc.core import gitops
from orc.core.locks import named_lock
from orc.teams.project_config import Member, Project
from orc.core.settings import Settings
from orc.core.state import log_event, private_dir
from orc.teams.status import write_record
from orc.teams.worktrees import (RecordedWorktree, WorktreeRefused, deleted_by_hand, listed_worktrees,
                                 main_branch_of, recorded, take_away, uncommitted_work, uses_worktree)


def run_backup(settings: Settings, project: Project, why: str = "timer",
               member: Member | None = None) -> gitops.BackupResult:
    """One backup under the project's lock, recorded for status and in ``git.log``: of the main
    checkout, or with ``member`` of the folder that member works in (its worktree, if it has one).

    Each worktree is its own checkout on its own branch, so its snapshot goes to that
    branch's ref (``refs/orc/backup/<branch>``) and never to another's."""
    path = project.path
    entry = recorded(settings, project).get(member.role) if member is not None and uses_worktree(project, member) else None
    if entry is not None:
        path = entry.path
    scratch = private_dir(settings.state_dir / "tmp")
    try:
        if entry is not None and not entry.path.is_dir():
            raise gitops.GitError(["git"], f"the worktree {entry.path} is gone (deleted by hand?)", 1)
        with named_lock(settings.state_dir, f"git-{project.name}", 300):
            result = gitops.backup(path, max_files=project.max_files_per_commit, scratch_dir=scratch)
    except gitops.GitError as exc:
        result = gitops.BackupResult(None, None, 0, f"failed: {exc}")
    if entry is None:
        write_record(settings, project.name, "last-backup", {
            "at": time.time(), "ok": result.committed is not None or result.reason.startswith("skipped: nothing"),
            "commit": result.committed, "ref": result.ref, "files": result.files, "reason": result.reason,
        })
    log_event(settings.state_dir / "git.log", "backup", project=project.name, why=why,
              worktree=entry.role if entry else None,
              result="committed" if result.committed else "skipped", commit=result.committed,
              files=result.files, reason=result.reason)
    return result


def run_backups(settings: Settings, project: Project, why: str = "timer") -> list[tuple[str, gitops.BackupResult]]:
    """The main checkout's backup and one per worktree the suite made (what the backup line
    runs): ``(where, result)`` with ``where`` "main checkout" or the member's role."""
    results = [("main checkout", run_backup(settings, project, why))]
    for member in project.team:
        if uses_worktree(project, member) and member.role in recorded(settings, project):
            results.append((member.role, run_backup(settings, project, why, member)))
    return results


@dataclass(frozen=True)
class StableResult:
    tested: bool
    passed: bool
    tag: str | None
    detail: str


def run_tests(settings: Settings, project: Project, timeout: float, cwd: Path | None = None) -> tuple[bool, str]:
    """Run ``test_command`` in the project folder (or ``cwd``, a worktree); record the outcome for status."""
    command = project.test_command
    assert command is not None
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    started = time.time()
    try:
        done = subprocess.run(argv, cwd=cwd or project.path, capture_output=True, text=True, errors="replace",
                              timeout=timeout, stdin=subprocess.DEVNULL)
        passed, code = done.returncode == 0, done.returncode
        tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    except subprocess.TimeoutExpired:
        passed, code, tail = False, -1, [f"timed out after {timeout:g}s"]
    except OSError as exc:
        passed, code, tail = False, -1, [f"could not run: {exc}"]
    write_record(settings, project.name, "last-test", {
        "at": started, "ok": passed, "exit": code, "command": project.test_command_text,
        "seconds": round(time.time() - started, 1), "tail": tail, "folder": str(cwd or project.path),
    })
    log_event(settings.state_dir / "git.log", "tests", project=project.name, ok=passed, exit=code)
    summary = f"`{project.test_command_text}` {'passed' if passed else f'failed (exit {code})'}"
    if not passed and tail:
        summary += ": " + " | ".join(tail[-3:])
    return passed, summary


def run_stable(settings: Settings, project: Project, timeout: float, member: Member | None = None) -> StableResult:
    """Test, then tag HEAD ``stable-<feature>-<date>``; with require_tests, no tag unless they pass.

    With ``member`` (one with a worktree): its worktree is tested and its HEAD tagged."""
    repo = project.path
    if member is not None:
        try:
            repo = _finishable_worktree(settings, project, member).path
        except WorktreeRefused as exc:
            return StableResult(False, False, None, str(exc))
    dirty = gitops.tracked_changes(repo)
    if dirty:
        return StableResult(False, False, None, f"{len(dirty)} uncommitted change(s) to tracked files "
                            f"({', '.join(dirty[:5])}): commit first, so the tag marks what was tested")
    tested = passed = False
    detail = "no test_command configured"
    if project.test_command is not None:
        tested = True
        passed, detail = run_tests(settings, project, timeout, repo)
    if not passed and project.require_tests:
        return StableResult(tested, passed, None, f"{detail}; not tagged (require_tests is true)")
    branch = gitops.current_branch(repo) or "detached"
    prefix = project.worktrees.branch_prefix if member is not None and project.worktrees else project.branch_prefix
    feature = gitops.tag_part(branch.removeprefix(prefix))
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


# --- finish: tested feature branch -> stable tag -> merged into the main branch ---------------


@dataclass(frozen=True)
class FinishResult:
    """What ``finish`` did. ``merged`` is the merge commit; ``conflicts`` the files that collided."""

    merged: str | None
    feature: str | None
    main_branch: str | None
    tag: str | None
    detail: str
    conflicts: tuple[str, ...] = ()
    usage_error: bool = False   # the request itself was wrong (exit 2), not the repository's state


def uncommitted(repo: Path) -> list[str]:
    """Tracked changes and untracked (not ignored) files: what a switch of branches would leave behind."""
    out = gitops.git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    return [e[3:] for e in out.split("\0") if len(e) >= 4]


def _unmerged(repo: Path) -> list[str]:
    out = gitops.git(repo, "diff", "--name-only", "--diff-filter=U", "-z", check=False).stdout
    return sorted({p for p in out.split("\0") if p})


def _free_tag(repo: Path, tag: str) -> str:
    """``tag``, or ``tag-2``, ``tag-3``... when a finish in the same second already used it."""
    candidate, n = tag, 1
    while gitops.git(repo, "rev-parse", "-q", "--verify", f"refs/tags/{candidate}", check=False).returncode == 0:
        n += 1
        candidate = f"{tag}-{n}"
    return candidate


def _finishable_worktree(settings: Settings, project: Project, member: Member) -> RecordedWorktree:
    """The worktree the suite made for ``member``, there and on its own branch; else WorktreeRefused."""
    if not uses_worktree(project, member):
        raise WorktreeRefused(f"{project.name}/{member.role} works in the main checkout, not a worktree; "
                              f"name its task instead (finish {project.name} <task>)")
    entry = recorded(settings, project).get(member.role)
    if entry is None:
        raise WorktreeRefused(f"{project.name}/{member.role} has no worktree made by the suite yet "
                              f"(deploy, spawn or restart makes it)")
    if deleted_by_hand(entry, listed_worktrees(project.path)):
        raise WorktreeRefused(f"the worktree of {project.name}/{member.role} at {entry.path} was deleted by hand; "
                              f"its branch {entry.branch} can still be finished by name once it is checked out "
                              f"somewhere (git worktree add {entry.path} {entry.branch})")
    on = gitops.current_branch(entry.path)
    if on != entry.branch:
        raise WorktreeRefused(f"the worktree {entry.path} is on {on or 'a detached HEAD'}, not on its branch "
                              f"{entry.branch}; switch it back (git -C {entry.path} switch {entry.branch})")
    return entry


def run_finish(settings: Settings, project: Project, task: str | None, timeout: float,
               member: Member | None = None, keep: bool = False) -> FinishResult:
    """Test the feature branch, tag it ``stable-<feature>-<date>``, merge it ``--no-ff`` into the
    main branch. Under the project's git lock, so a backup never runs in the middle of it.

    On a conflict the merge is aborted and the feature branch checked out again, exactly as it
    was (a clean tree is required before anything starts, so nothing can be lost); the
    conflicting files are named and a person is told (orc.teams.attention).
    """
    with named_lock(settings.state_dir, f"git-{project.name}", 300):
        if member is not None:
            result = _finish_member_locked(settings, project, member, timeout, keep)
        else:
            result = _finish_locked(settings, project, task, timeout)
    log_event(settings.state_dir / "git.log", "finish", project=project.name, feature=result.feature,
              into=result.main_branch, result="merged" if result.merged else "refused",
              commit=result.merged[:12] if result.merged else None, tag=result.tag,
              conflicts=",".join(result.conflicts) or None, detail=result.detail)
    if result.conflicts:
        from orc.teams.attention import raise_attention

        where = (f"the main checkout and {member.role}'s worktree are as they were" if member is not None
                 else f"the repository is back on {result.feature} as it was")
        raise_attention(settings, project.name, "merge-conflict",
                        f"finish could not merge {result.feature} into {result.main_branch}: conflicts in "
                        f"{', '.join(result.conflicts)}. The merge was aborted; {where}. Resolve it (merge "
                        f"{result.main_branch} into the feature branch, fix, commit) and run finish again.")
    elif result.merged:
        from orc.teams.attention import clear_attention

        clear_attention(settings, project.name, "merge-conflict")
    return result


def _finish_locked(settings: Settings, project: Project, task: str | None, timeout: float) -> FinishResult:
    repo = project.path
    busy = gitops.busy_reason(repo)
    if busy:
        return FinishResult(None, None, None, None, f"{busy}; finish or abort it first")
    current = gitops.current_branch(repo)
    try:
        main = main_branch_of(project)
    except gitops.GitError as exc:
        return FinishResult(None, current, None, None, str(exc))
    if task is not None:
        try:
            feature = task_branch_name(project, task) if not task.startswith(project.branch_prefix) else task
        except BadTaskName as exc:
            return FinishResult(None, None, main, None, str(exc), usage_error=True)
        if gitops.git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{feature}", check=False).returncode:
            return FinishResult(None, feature, main, None, f"there is no branch {feature}; "
                                f"`git branch --list '{project.branch_prefix}*'` lists the task branches",
                                usage_error=True)
    elif current is None:
        return FinishResult(None, None, main, None, "HEAD is detached; name the task, or switch to its branch")
    else:
        feature = current
    if feature == main:
        return FinishResult(None, feature, main, None, f"{feature} is the main branch itself; switch to the "
                            f"feature branch to finish, or name its task", usage_error=True)
    dirty = uncommitted(repo)
    if dirty:
        return FinishResult(None, feature, main, None,
                            f"{len(dirty)} uncommitted change(s) ({', '.join(dirty[:5])}"
                            f"{', ...' if len(dirty) > 5 else ''}); commit them first, so what is merged is "
                            f"what was tested")
    started_on = current
    if current != feature:
        gitops.git(repo, "switch", "-q", feature)

    def back(result: FinishResult) -> FinishResult:
        if started_on and started_on != feature:
            gitops.git(repo, "switch", "-q", started_on)
        return result

    passed, summary = False, "no test_command configured"
    if project.test_command is not None:
        passed, summary = run_tests(settings, project, timeout)
        if not passed and project.require_tests:
            return back(FinishResult(None, feature, main, None, f"{summary}; not merged (require_tests is true)"))
    if gitops.git(repo, "merge-base", "--is-ancestor", feature, main, check=False).returncode == 0:
        return back(FinishResult(None, feature, main, None, f"{feature} has nothing that {main} lacks; "
                                 f"nothing to merge"))
    tag = _free_tag(repo, f"stable-{gitops.tag_part(feature.removeprefix(project.branch_prefix))}-"
                         f"{datetime.now():%Y%m%d-%H%M%S}")
    gitops.tag_head(repo, tag)
    gitops.git(repo, "switch", "-q", main)
    merge = gitops.git(repo, "merge", "--no-ff", "--no-edit", "-m", f"Merge {feature} into {main} (finish, tested: "
                       f"{'yes' if passed else 'no'}, tag {tag})", feature, check=False,
                       env=gitops.identity_env(repo), timeout=max(60.0, timeout))
    if merge.returncode == 0:
        commit = gitops.head_commit(repo) or ""
        return FinishResult(commit, feature, main, tag, f"{summary}; tagged {tag}; merged {feature} into {main} "
                            f"as {commit[:12]}; now on {main}")
    conflicts = _unmerged(repo)
    if gitops.busy_reason(repo) == "a merge is in progress":
        gitops.git(repo, "merge", "--abort")
    gitops.git(repo, "switch", "-q", feature)
    said = (merge.stderr or merge.stdout).strip().splitlines()[-1:] or ["git merge failed"]
    if conflicts:
        return FinishResult(None, feature, main, tag, f"merge conflict in {', '.join(conflicts)}; the merge was "
                            f"aborted and {feature} is checked out as it was (tag {tag} kept)", tuple(conflicts))
    return FinishResult(None, feature, main, tag, f"git merge failed: {said[0]}; back on {feature}")


def _finish_member_locked(settings: Settings, project: Project, member: Member, timeout: float,
                          keep: bool) -> FinishResult:
    """finish for an engineer with a worktree: test there, tag its tip, merge its branch into the
    main branch in the main checkout, then take the worktree and branch away (unless ``keep``).

    The engineer's worktree is only read until the merge has succeeded; the main checkout must be
    clean, so an aborted merge leaves both exactly as they were."""
    try:
        entry = _finishable_worktree(settings, project, member)
    except WorktreeRefused as exc:
        return FinishResult(None, None, None, None, str(exc))
    feature, tree, repo = entry.branch, entry.path, project.path
    try:
        main = main_branch_of(project)
    except gitops.GitError as exc:
        return FinishResult(None, feature, None, None, str(exc))
    for folder, what in ((tree, f"{member.role}'s worktree"), (repo, "the main checkout")):
        busy = gitops.busy_reason(folder)
        if busy:
            return FinishResult(None, feature, main, None, f"in {what} {folder}: {busy}; finish or abort it first")
    dirty = uncommitted_work(project, tree)
    if dirty:
        return FinishResult(None, feature, main, None,
                            f"{len(dirty)} uncommitted change(s) in {tree} ({', '.join(dirty[:5])}"
                            f"{', ...' if len(dirty) > 5 else ''}); commit them on {feature} first, so what is "
                            f"merged is what was tested")
    # Untracked files in the main checkout (a .env, the manager's notes) may stay: git refuses by
    # itself a merge that would overwrite one, before it starts. Changes to tracked files may not:
    # `git merge --abort` after a conflict cannot be trusted to give them back (git-merge(1)).
    main_dirty = gitops.tracked_changes(repo)
    if main_dirty:
        return FinishResult(None, feature, main, None,
                            f"the main checkout {repo} has {len(main_dirty)} uncommitted change(s) to tracked files "
                            f"({', '.join(main_dirty[:5])}); the merge happens there: commit or stash them first")
    passed, summary = False, "no test_command configured"
    if project.test_command is not None:
        passed, summary = run_tests(settings, project, timeout, tree)
        if not passed and project.require_tests:
            return FinishResult(None, feature, main, None, f"{summary}; not merged (require_tests is true)")
    if gitops.git(repo, "merge-base", "--is-ancestor", feature, main, check=False).returncode == 0:
        return FinishResult(None, feature, main, None, f"{feature} has nothing that {main} lacks; nothing to merge")
    tag = _free_tag(repo, f"stable-{gitops.tag_part(member.role)}-{datetime.now():%Y%m%d-%H%M%S}")
    gitops.tag_head(tree, tag)
    started_on, started_at = gitops.current_branch(repo), gitops.head_commit(repo)

    def back_where_it_was() -> None:
        # The main checkout is the project manager's: back on the branch (or the detached commit) it was on.
        if started_on is None and started_at:
            gitops.git(repo, "switch", "-q", "--detach", started_at)
        elif started_on != main and started_on:
            gitops.git(repo, "switch", "-q", started_on)

    if started_on != main:
        switched = gitops.git(repo, "switch", "-q", main, check=False)
        if switched.returncode != 0:
            said = switched.stderr.strip().splitlines()[-1:] or ["git switch failed"]
            return FinishResult(None, feature, main, tag, f"the main checkout cannot switch to {main}: {said[0]}; "
                                f"nothing merged (tag {tag} kept)")
    merge = gitops.git(repo, "merge", "--no-ff", "--no-edit", "-m", f"Merge {feature} into {main} (finish "
                       f"{member.role}, tested: {'yes' if passed else 'no'}, tag {tag})", feature, check=False,
                       env=gitops.identity_env(repo), timeout=max(60.0, timeout))
    if merge.returncode != 0:
        conflicts = _unmerged(repo)
        if gitops.busy_reason(repo) == "a merge is in progress":
            gitops.git(repo, "merge", "--abort")
        back_where_it_was()
        said = (merge.stderr or merge.stdout).strip().splitlines()[-1:] or ["git merge failed"]
        if conflicts:
            return FinishResult(None, feature, main, tag, f"merge conflict in {', '.join(conflicts)}; the merge was "
                                f"aborted: the main checkout and {tree} are as they were (tag {tag} kept)",
                                tuple(conflicts))
        return FinishResult(None, feature, main, tag, f"git merge failed: {said[0]}; nothing merged")
    commit = gitops.head_commit(repo) or ""
    detail = f"{summary}; tagged {tag}; merged {feature} into {main} as {commit[:12]}"
    if started_on != main:
        back_where_it_was()
        detail += f"; the main checkout is back on {started_on or 'its detached commit'}"
    if keep:
        detail += f"; kept the worktree {tree} and the branch {feature} (--keep)"
    else:
        try:
            detail += "; " + take_away(settings, project, member, entry, main)
            # Its agent still runs in the removed folder; a restart makes a new worktree there from
            # the main branch, and with --resume the same folder finds the same conversation.
            detail += (f"; {member.role}'s agent now runs in a removed folder: `restart {project.name} "
                       f"{member.role} --resume` gives it a new worktree from {main}")
        except WorktreeRefused as exc:
            detail += f"; {exc}"
    return FinishResult(commit, feature, main, tag, detail)

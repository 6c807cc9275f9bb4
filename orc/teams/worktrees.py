"""Each engineer in a git worktree and branch of its own (docs/workflow.md, "Worktrees").

With ``"worktree": true`` in a project (or a member) of project_configs.json, an engineer
works in ``<folder>/<role>`` on the branch ``<branch_prefix><role>``, made from the base ref
by ``git worktree add``; the project manager and the orchestrator stay in the main checkout.
Two engineers then never see each other's half-done files, and ``finish`` merges one
branch at a time into the main branch.

The suite writes down which worktrees it made, in ``<state>/projects/<name>/worktrees.txt``
(plain text, one ``role<TAB>branch<TAB>folder`` line each, 0600): only those are reused,
finished and removed. A folder or branch already there that the suite did not make is
refused, and so is a worktree of the suite's that was deleted by hand: it is named, never
silently made again over what a person did. Nothing here forces git: no ``worktree remove
--force``, no ``branch -D``, no ``worktree prune`` (it would prune a person's stale
worktrees too).
"""

from __future__ import annotations

import filecmp
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from orc.core import gitops
from orc.core.locks import named_lock
from orc.core.state import log_event, write_private_text
from orc.teams.project_config import Member, Project

if TYPE_CHECKING:
    from orc.core.settings import Settings

RECORD_NAME = "worktrees.txt"
RECORD_HEADER = ("# Worktrees Tmux Orchestrator made (docs/workflow.md, \"Worktrees\"): role, branch, folder,\n"
                 "# separated by tabs. Only these are reused, finished and removed by the suite.\n")


class WorktreeRefused(RuntimeError):
    """A worktree could not be made or used; the text names what is in the way and how to fix it."""


@dataclass(frozen=True)
class RecordedWorktree:
    role: str
    branch: str
    path: Path


@dataclass(frozen=True)
class WorktreeReady:
    """The member's worktree, ready for its pane. ``created``: made just now (else reused)."""

    path: Path
    branch: str
    created: bool
    copied: tuple[str, ...] = ()


# --- where each member works --------------------------------------------------------------


def uses_worktree(project: Project, member: Member) -> bool:
    return member.worktree and project.worktrees is not None


def worktree_path(project: Project, member: Member) -> Path:
    assert project.worktrees is not None
    return project.worktrees.folder / member.role


def worktree_branch(project: Project, member: Member) -> str:
    assert project.worktrees is not None
    return project.worktrees.branch_prefix + member.role


def workdir(project: Project, member: Member) -> Path:
    """The folder ``member`` works in: its worktree, or the project's main checkout."""
    return worktree_path(project, member) if uses_worktree(project, member) else project.path


def main_branch_of(project: Project) -> str:
    """The configured ``main_branch``, else ``main`` or ``master``, whichever the repository has."""
    if project.main_branch:
        return project.main_branch
    for name in ("main", "master"):
        if gitops.branch_exists(project.path, name):
            return name
    raise gitops.GitError(["git", "rev-parse"], "the repository has neither a main nor a master branch; set "
                          "main_branch for this project in project_configs.json", 1)


# --- the suite's own record ---------------------------------------------------------------


def record_file(settings: Settings, project: Project) -> Path:
    return settings.state_dir / "projects" / project.name / RECORD_NAME


def recorded(settings: Settings, project: Project) -> dict[str, RecordedWorktree]:
    """The worktrees the suite made for ``project``, by role."""
    try:
        text = record_file(settings, project).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    found: dict[str, RecordedWorktree] = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if line.startswith("#") or len(parts) != 3:
            continue
        found[parts[0]] = RecordedWorktree(parts[0], parts[1], Path(parts[2]))
    return found


def _write_record(settings: Settings, project: Project, entries: dict[str, RecordedWorktree]) -> None:
    lines = [f"{e.role}\t{e.branch}\t{e.path}\n" for e in sorted(entries.values(), key=lambda e: e.role)]
    write_private_text(record_file(settings, project), RECORD_HEADER + "".join(lines))


def _remember(settings: Settings, project: Project, entry: RecordedWorktree) -> None:
    entries = recorded(settings, project)
    entries[entry.role] = entry
    _write_record(settings, project, entries)


def _forget(settings: Settings, project: Project, role: str) -> None:
    entries = recorded(settings, project)
    if entries.pop(role, None) is not None:
        _write_record(settings, project, entries)


def worktree_holding(settings: Settings, project: Project, folder: Path) -> RecordedWorktree | None:
    """The worktree of ``project`` the suite made that ``folder`` is in, if any."""
    where = folder.resolve()
    for entry in recorded(settings, project).values():
        top = entry.path.resolve()
        if where == top or top in where.parents:
            return entry
    return None


def listed_worktrees(repo: Path) -> dict[Path, gitops.Worktree]:
    return {wt.path.resolve(): wt for wt in gitops.worktrees(repo)}


def deleted_by_hand(entry: RecordedWorktree, listed: dict[Path, gitops.Worktree]) -> bool:
    """A worktree the suite made whose folder is gone (or that git no longer knows)."""
    known = listed.get(entry.path.resolve())
    return not entry.path.is_dir() or known is None or known.prunable


def _deleted_text(project: Project, entry: RecordedWorktree) -> str:
    return (f"the worktree of {project.name}/{entry.role} at {entry.path} was deleted by hand (the suite made it on "
            f"branch {entry.branch}); not made again over it: to carry on from the branch's commits run "
            f"`git -C {project.path} worktree prune && git -C {project.path} worktree add {entry.path} {entry.branch}`")


# --- making and reusing -------------------------------------------------------------------


def _refuse_unsupported(repo: Path, project: Project) -> None:
    if (repo / ".gitmodules").exists():
        raise WorktreeRefused(f"{project.name} has submodules (.gitmodules), which the suite does not check out in "
                              f"worktrees; set \"worktree\": false for it")
    if gitops.uses_lfs(repo) and not gitops.lfs_installed(repo):
        raise WorktreeRefused(f"{project.name} keeps files in Git LFS (.gitattributes) and git-lfs is not "
                              f"installed, so a worktree would hold pointer files; install git-lfs or set "
                              f"\"worktree\": false")


def ensure_worktree(settings: Settings, project: Project, member: Member) -> WorktreeReady:
    """``member``'s worktree: the one the suite made before, or a new one from the base ref.

    Raises WorktreeRefused, changing nothing, when a folder or branch of that name is there
    and the suite did not make it, when the suite's own was deleted by hand, or when the
    repository has submodules (or LFS files without git-lfs).
    """
    assert project.worktrees is not None
    repo = project.path
    path, branch = worktree_path(project, member), worktree_branch(project, member)
    with named_lock(settings.state_dir, f"git-{project.name}", 300):
        _refuse_unsupported(repo, project)
        listed = listed_worktrees(repo)
        entry = recorded(settings, project).get(member.role)
        if entry is not None:
            if (entry.path, entry.branch) != (path, branch):
                raise WorktreeRefused(
                    f"{project.name}/{member.role} has the worktree {entry.path} on {entry.branch}, but the config "
                    f"now says {path} on {branch}; finish it first (`finish {project.name} {member.role}`) or put "
                    f"the config back")
            if deleted_by_hand(entry, listed):
                raise WorktreeRefused(_deleted_text(project, entry))
            return WorktreeReady(path, branch, created=False)
        if path.exists() or path.is_symlink():
            raise WorktreeRefused(f"{path} already exists and the suite did not make it; move it away, or set "
                                  f"worktree.folder for {project.name} to another folder")
        if gitops.branch_exists(repo, branch):
            raise WorktreeRefused(f"the branch {branch} already exists and the suite did not make it; rename it "
                                  f"(`git -C {repo} branch -m {branch} <new name>`) or set worktree.branch_prefix")
        base = project.worktrees.base or gitops.head_commit(repo)
        if base is None:
            raise WorktreeRefused(f"{project.name}'s repository has no commit yet; commit once, then deploy again")
        made_folder = not path.parent.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            gitops.add_worktree(repo, path, branch, base)
        except gitops.GitError as exc:
            if made_folder:
                path.parent.rmdir()  # a refusal leaves nothing behind, not even the empty folder
            raise WorktreeRefused(f"git could not make the worktree {path} on {branch} from {base}: {exc}") from None
        _remember(settings, project, RecordedWorktree(member.role, branch, path))
        copied = _copy_included(project, path)
    log_event(settings.state_dir / "git.log", "worktree-add", project=project.name, role=member.role,
              branch=branch, folder=path, base=base, copied=",".join(copied) or None)
    return WorktreeReady(path, branch, created=True, copied=copied)


def _copy_included(project: Project, path: Path) -> tuple[str, ...]:
    """Copy the ``include`` files the main checkout has into a new worktree, keeping files git put there."""
    assert project.worktrees is not None
    copied = []
    for name in project.worktrees.include:
        source, target = project.path / name, path / name
        if target.exists() or not source.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, symlinks=True)
        else:
            shutil.copy2(source, target)
        copied.append(name)
    return tuple(copied)


# --- clean, finished, taken away ----------------------------------------------------------


def _is_included_copy(project: Project, path: Path, name: str) -> bool:
    """``name`` (untracked in the worktree at ``path``) is an include file still equal to the main checkout's."""
    assert project.worktrees is not None
    if not any(name == inc or name.startswith(inc.rstrip("/") + "/") for inc in project.worktrees.include):
        return False
    source = project.path / name
    return source.is_file() and filecmp.cmp(source, path / name, shallow=False)


def uncommitted_work(project: Project, path: Path) -> list[str]:
    """Tracked changes and untracked files in the worktree ``path``, leaving out the copies of
    ``include`` files that nobody changed (they were put there for the agent, not written by it),
    and counting those that were changed even when git ignores them (``git worktree remove``
    deletes ignored files without asking: a changed ``.env`` would be lost)."""
    out = gitops.git(path, "status", "--porcelain=v1", "-z", "--untracked-files=all").stdout
    found = []
    for entry in out.split("\0"):
        if len(entry) < 4:
            continue
        name = entry[3:]
        if entry.startswith("??") and _is_included_copy(project, path, name):
            continue
        found.append(name)
    return found + [name for name in _changed_ignored_includes(project, path) if name not in found]


def _include_files(project: Project, path: Path) -> list[str]:
    """The files of the ``include`` list present in the worktree ``path`` (folders walked)."""
    assert project.worktrees is not None
    names = []
    for inc in project.worktrees.include:
        target = path / inc
        if target.is_file():
            names.append(inc)
        elif target.is_dir():
            names += [str(f.relative_to(path)) for f in sorted(target.rglob("*")) if f.is_file()]
    return names


def _changed_ignored_includes(project: Project, path: Path) -> list[str]:
    """Include files git ignores in ``path`` that differ from the main checkout's (or it has none)."""
    names = _include_files(project, path)
    if not names:
        return []
    ignored = gitops.git(path, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--",
                         *[f":(literal){n}" for n in names]).stdout
    return [n for n in ignored.split("\0") if n and not _is_included_copy(project, path, n)]


def take_away(settings: Settings, project: Project, member: Member, entry: RecordedWorktree, main: str) -> str:
    """Remove a finished member's worktree and its branch (merged into ``main``); what was done.

    Call under the project's git lock. Removes the untouched copies of the ``include`` files
    first (git would rightly refuse a worktree with untracked files), then ``git worktree
    remove`` (no force) and ``git branch -d`` (merged only). Raises WorktreeRefused, having
    removed nothing more, when work would be lost.
    """
    left = uncommitted_work(project, entry.path)
    if left:
        raise WorktreeRefused(f"{entry.path} has uncommitted work ({', '.join(left[:5])}); worktree and branch "
                              f"{entry.branch} kept")
    tracked = set(gitops.git(entry.path, "ls-files", "-z").stdout.split("\0"))
    for name in _include_files(project, entry.path):
        if name not in tracked and _is_included_copy(project, entry.path, name):
            (entry.path / name).unlink()
    try:
        gitops.remove_worktree(project.path, entry.path)
    except gitops.GitError as exc:
        raise WorktreeRefused(f"git did not remove the worktree {entry.path}: {exc}; it and the branch "
                              f"{entry.branch} are kept") from None
    try:
        gitops.delete_merged_branch(project.path, entry.branch, main)
    except gitops.GitError as exc:
        _forget(settings, project, member.role)
        raise WorktreeRefused(f"removed the worktree {entry.path}; the branch {entry.branch} is kept: {exc}") from None
    _forget(settings, project, member.role)
    log_event(settings.state_dir / "git.log", "worktree-remove", project=project.name, role=member.role,
              branch=entry.branch, folder=entry.path)
    return f"removed the worktree {entry.path} and the branch {entry.branch}"


# --- what status shows --------------------------------------------------------------------


@dataclass(frozen=True)
class WorktreeFacts:
    """One engineer's worktree as status shows it."""

    role: str
    path: str
    branch: str | None
    ahead: int | None             # commits on the branch that the main branch lacks
    behind: int | None            # commits on the main branch that the branch lacks
    uncommitted: int
    last_commit_epoch: int | None
    last_commit_subject: str
    problem: str | None = None    # deleted by hand, not made yet, unreadable


def worktree_facts(settings: Settings, project: Project) -> tuple[WorktreeFacts, ...]:
    """Branch, ahead/behind the main branch, uncommitted files and last commit of each worktree."""
    if project.worktrees is None:
        return ()
    entries = recorded(settings, project)
    try:
        listed = listed_worktrees(project.path)
        main: str | None = main_branch_of(project)
    except gitops.GitError:
        listed, main = {}, None
    found = []
    for member in project.team:
        if not uses_worktree(project, member):
            continue
        entry = entries.get(member.role)
        path = entry.path if entry else worktree_path(project, member)
        if entry is None:
            found.append(WorktreeFacts(member.role, str(path), None, None, None, 0, None, "",
                                       "not made yet (deploy, spawn or restart makes it)"))
            continue
        if deleted_by_hand(entry, listed):
            found.append(WorktreeFacts(member.role, str(path), entry.branch, None, None, 0, None, "",
                                       "deleted by hand; deploy and restart refuse it until it is back"))
            continue
        facts = gitops.repo_facts(path)
        counts = gitops.ahead_behind(path, "HEAD", main) if main and facts.ok else None
        found.append(WorktreeFacts(member.role, str(path), facts.branch, counts[0] if counts else None,
                                   counts[1] if counts else None, facts.uncommitted, facts.last_commit_epoch,
                                   facts.last_commit_subject, facts.error or None))
    return tuple(found)

"""The one path to git (docs/README.md, "One path to cron, one to git"): every git command of the suite goes through :func:`git`.

Each call is an argument list (no shell), with a timeout, stdin closed, and an
environment that can never wait for a person: no terminal prompt, no editor, no
pager, no optional locks (a status refresh would otherwise take ``index.lock`` from
under the agent). Under cron there is no TTY; a hook or a GPG pinentry would hang
(docs/scheduling.md, "The backup line and git"), so the backup uses plumbing commands with hooks and signing off.

The backup (:func:`backup`) never touches the agent's index, HEAD, branch or working
tree: it stages the working tree into a *private* index (``GIT_INDEX_FILE``), writes
a tree, and records a commit on ``refs/orc/backup/<branch>`` whose first parent is the
branch tip. The agent keeps committing as it likes; the backup ref holds every
snapshot (``git log refs/orc/backup/main``) and any file can be restored from it
(``git restore --source=refs/orc/backup/main -- path``).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

DEFAULT_TIMEOUT = 60.0
BACKUP_REF_PREFIX = "refs/orc/backup/"
# Never staged by a backup, at any depth (docs/scheduling.md, "The backup line and git": `git add -A` stages .env).
SECRET_GLOBS = (
    ".env", ".env.*", "*.pem", "*.key", "*.p12", "*.pfx", "*.keystore", "*.jks", "id_rsa*", "id_dsa*",
    "id_ecdsa*", "id_ed25519*", ".netrc", ".npmrc", ".pypirc", "*.kdbx", "credentials", "credentials.json",
    "secrets.*", ".secrets", "*.tfstate", "*.tfvars",
)
# State files whose presence means another git operation is half done.
BUSY_MARKERS = {
    "MERGE_HEAD": "a merge is in progress",
    "REBASE_HEAD": "a rebase is in progress",
    "rebase-merge": "a rebase is in progress",
    "rebase-apply": "a rebase or `git am` is in progress",
    "CHERRY_PICK_HEAD": "a cherry-pick is in progress",
    "REVERT_HEAD": "a revert is in progress",
    "index.lock": "another git command holds index.lock",
}
FALLBACK_IDENTITY = {"name": "Tmux Orchestrator", "email": "orchestrator@localhost"}


class GitError(RuntimeError):
    """git failed; ``command`` is the argument list, ``stderr`` what git said."""

    def __init__(self, command: Sequence[str], stderr: str, returncode: int) -> None:
        self.command = list(command)
        self.stderr = stderr.strip()
        self.returncode = returncode
        super().__init__(self.stderr.splitlines()[-1] if self.stderr else f"git exited with {returncode}")


@dataclass(frozen=True)
class GitResult:
    returncode: int
    stdout: str
    stderr: str


def git(repo: Path, *args: str, index_file: Path | None = None, env: dict[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT, check: bool = True, hooks: bool = True) -> GitResult:
    """Run ``git -C repo args...``; raise :class:`GitError` on failure when ``check``."""
    full_env = {
        **os.environ,
        "GIT_TERMINAL_PROMPT": "0",   # never ask for credentials
        "GIT_OPTIONAL_LOCKS": "0",    # status must not take index.lock from the agent
        "GIT_EDITOR": "true",
        "GIT_SEQUENCE_EDITOR": "true",
        "GIT_PAGER": "cat",
        "GIT_ASKPASS": "true",
        "SSH_ASKPASS": "true",
        "LC_ALL": "C",                # messages we parse stay in English
        **(env or {}),
    }
    if index_file is not None:
        full_env["GIT_INDEX_FILE"] = str(index_file)
    prefix = ["git", "-C", str(repo)]
    if not hooks:
        # /dev/null is not a folder, so no hook can be found in it (reference-transaction included).
        prefix += ["-c", "core.hooksPath=/dev/null"]
    command = [*prefix, *args]
    try:
        done = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace",
                              env=full_env, timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise GitError(command, f"git did not finish within {timeout:g}s", 124) from None
    except FileNotFoundError:
        raise GitError(command, "git is not installed (not found on PATH)", 127) from None
    if check and done.returncode != 0:
        raise GitError(command, done.stderr, done.returncode)
    return GitResult(done.returncode, done.stdout, done.stderr)


# --- reading ------------------------------------------------------------------------------


def git_path(repo: Path, name: str) -> Path:
    """Where git keeps ``name`` for this work tree (right for linked worktrees too)."""
    out = git(repo, "rev-parse", "--git-path", name).stdout.strip()
    path = Path(out)
    return path if path.is_absolute() else repo / path


def busy_reason(repo: Path) -> str | None:
    """Why a commit now would be unsafe (a merge, rebase, cherry-pick, a held index.lock), or None."""
    args = [part for name in BUSY_MARKERS for part in ("--git-path", name)]
    out = git(repo, "rev-parse", *args).stdout.splitlines()
    for name, line in zip(BUSY_MARKERS, out):
        path = Path(line) if Path(line).is_absolute() else repo / line
        if path.exists():
            return BUSY_MARKERS[name]
    return None


def current_branch(repo: Path) -> str | None:
    """The checked-out branch's short name; None when HEAD is detached."""
    result = git(repo, "symbolic-ref", "-q", "--short", "HEAD", check=False)
    return result.stdout.strip() or None


def head_commit(repo: Path) -> str | None:
    """HEAD's commit id; None on a branch with no commit yet."""
    result = git(repo, "rev-parse", "-q", "--verify", "HEAD^{commit}", check=False)
    return result.stdout.strip() or None


def tracked_changes(repo: Path) -> list[str]:
    """Paths of tracked files that differ from HEAD (index or working tree), untracked left out."""
    out = git(repo, "status", "--porcelain=v1", "-z", "--untracked-files=no").stdout
    return [e[3:] for e in out.split("\0") if len(e) >= 4 and not e.startswith("??")]


@dataclass(frozen=True)
class RepoFacts:
    """What status shows about one project's repository."""

    ok: bool
    branch: str | None = None
    last_commit_epoch: int | None = None
    last_commit_subject: str = ""
    uncommitted: int = 0
    busy: str | None = None
    error: str = ""


def repo_facts(repo: Path) -> RepoFacts:
    """Branch, last commit, uncommitted count and any half-done operation, in three git calls."""
    if not repo.is_dir():
        return RepoFacts(False, error=f"{repo} does not exist")
    try:
        status = git(repo, "status", "--porcelain=v2", "--branch", "-z", "--untracked-files=all", timeout=10)
    except GitError as exc:
        return RepoFacts(False, error=str(exc))
    branch: str | None = None
    uncommitted = 0
    for entry in status.stdout.split("\0"):
        if entry.startswith("# branch.head "):
            head = entry[len("# branch.head "):]
            branch = None if head == "(detached)" else head
        elif entry[:2] in ("1 ", "2 ", "u ", "? "):
            uncommitted += 1
    log = git(repo, "log", "-1", "--format=%ct%x00%s", check=False, timeout=10)
    epoch: int | None = None
    subject = ""
    if log.returncode == 0 and "\0" in log.stdout:
        stamp, subject = log.stdout.rstrip("\n").split("\0", 1)
        epoch = int(stamp) if stamp.isdigit() else None
    try:
        busy = busy_reason(repo)
    except GitError:
        busy = None
    return RepoFacts(True, branch, epoch, subject, uncommitted, busy)


# --- the timed backup ---------------------------------------------------------------------


@dataclass(frozen=True)
class BackupResult:
    """What one backup did. ``committed`` is the new snapshot commit, if any."""

    committed: str | None
    ref: str | None
    files: int
    reason: str
    excluded: tuple[str, ...] = ()

    @property
    def skipped(self) -> bool:
        return self.committed is None


def _identity_env(repo: Path) -> dict[str, str]:
    """Author/committer for the snapshot: the repo's own user, else a fixed stand-in (cron has no prompt)."""
    env: dict[str, str] = {}
    for field in ("name", "email"):
        value = git(repo, "config", "--get", f"user.{field}", check=False).stdout.strip()
        if not value:
            env[f"GIT_AUTHOR_{field.upper()}"] = env[f"GIT_COMMITTER_{field.upper()}"] = FALLBACK_IDENTITY[field]
    return env


def identity_env(repo: Path) -> dict[str, str]:
    """The environment a commit needs when the repository names no author (see _identity_env)."""
    return _identity_env(repo)


def _staged_paths(repo: Path, index: Path, base: str | None) -> list[str]:
    if base:
        out = git(repo, "diff-index", "--cached", "--name-only", "-z", "--no-renames", base, index_file=index).stdout
    else:
        out = git(repo, "ls-files", "-z", index_file=index).stdout
    return [p for p in out.split("\0") if p]


def conflicted_files(repo: Path, index: Path, paths: Sequence[str]) -> list[str]:
    """Which of ``paths``, as staged in ``index``, hold both conflict markers (`<<<<<<<` and `>>>>>>>`)."""
    if not paths:
        return []
    found: list[str] = []
    # Batches keep the argument list well under the kernel's limit.
    for start in range(0, len(paths), 500):
        batch = paths[start:start + 500]
        result = git(repo, "grep", "--cached", "-l", "-I", "-z", "--all-match", "-E",
                     "-e", "^<{7}( |$)", "-e", "^>{7}( |$)", "--", *[f":(literal){p}" for p in batch],
                     index_file=index, check=False)
        if result.returncode not in (0, 1):
            raise GitError(["git", "grep"], result.stderr, result.returncode)
        found += [p for p in result.stdout.split("\0") if p]
    return found


def backup(repo: Path, *, max_files: int, message: str | None = None, scratch_dir: Path | None = None) -> BackupResult:
    """Snapshot the working tree to ``refs/orc/backup/<branch>`` without touching the agent's git state.

    Skips (``committed`` None, ``reason`` says why): during a merge, rebase, cherry-pick or
    revert, while ``index.lock`` exists, on a detached HEAD, when nothing changed since the
    last snapshot, and when more than ``max_files`` files changed (a change that large is
    usually build output missing from .gitignore; committing it in pieces would bury the
    real work, so a person decides). Secret files are never staged; files holding conflict
    markers are left out and named in ``excluded``.
    """
    busy = busy_reason(repo)
    if busy:
        return BackupResult(None, None, 0, f"skipped: {busy}; will try again at the next backup")
    branch = current_branch(repo)
    if branch is None:
        return BackupResult(None, None, 0, "skipped: HEAD is detached (no branch to back up)")
    ref = BACKUP_REF_PREFIX + branch
    head = head_commit(repo)
    previous = git(repo, "rev-parse", "-q", "--verify", f"{ref}^{{commit}}", check=False).stdout.strip() or None

    folder = scratch_dir or Path(tempfile.gettempdir())
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix="orc-backup-index.")
    os.close(fd)
    index = Path(name)
    index.unlink()  # git wants to create the index itself; an empty file is "corrupt"
    try:
        if head:
            git(repo, "read-tree", head, index_file=index)
        excludes = [f":(exclude,glob)**/{g}" for g in SECRET_GLOBS]
        git(repo, "add", "-A", "--", ".", *excludes, index_file=index, hooks=False)
        staged = _staged_paths(repo, index, head)
        if not staged:
            return BackupResult(None, ref, 0, "skipped: nothing uncommitted to back up")
        excluded = tuple(conflicted_files(repo, index, staged))
        if excluded:
            if head:
                git(repo, "reset", "-q", head, "--", *[f":(literal){p}" for p in excluded], index_file=index, hooks=False)
            else:
                git(repo, "rm", "-q", "--cached", "--", *[f":(literal){p}" for p in excluded], index_file=index)
            staged = [p for p in staged if p not in excluded]
        if len(staged) > max_files:
            return BackupResult(None, ref, len(staged),
                                f"skipped: {len(staged)} files changed, more than max_files_per_commit={max_files}; "
                                "commit them by hand or add build output to .gitignore", excluded)
        if not staged:
            return BackupResult(None, ref, 0, "skipped: only files with conflict markers changed", excluded)
        tree = git(repo, "write-tree", index_file=index).stdout.strip()
        if previous:
            prev_tree = git(repo, "rev-parse", f"{previous}^{{tree}}").stdout.strip()
            prev_base = git(repo, "rev-parse", "-q", "--verify", f"{previous}^1", check=False).stdout.strip()
            if prev_tree == tree and prev_base == (head or ""):
                return BackupResult(None, ref, len(staged), "skipped: nothing changed since the last backup", excluded)
        parents: list[str] = []
        if head:
            parents += ["-p", head]
        if previous and previous != head:
            parents += ["-p", previous]
        when = datetime.now().astimezone().isoformat(timespec="seconds")
        text = message or f"Auto-backup {when}: {len(staged)} uncommitted file(s) on {branch}"
        if excluded:
            text += "\n\nLeft out (conflict markers): " + ", ".join(excluded)
        commit = git(repo, "commit-tree", "--no-gpg-sign", tree, *parents, "-m", text,
                     env=_identity_env(repo), hooks=False).stdout.strip()
        # Compare-and-swap: if another backup moved the ref meanwhile, fail rather than overwrite it.
        git(repo, "update-ref", "-m", "orc backup", ref, commit, previous or "0" * 40, hooks=False)
        note = f"; left out {len(excluded)} file(s) with conflict markers: {', '.join(excluded)}" if excluded else ""
        return BackupResult(commit, ref, len(staged), f"backed up {len(staged)} file(s) to {ref}{note}", excluded)
    finally:
        index.unlink(missing_ok=True)
        Path(str(index) + ".lock").unlink(missing_ok=True)


# --- branches and tags --------------------------------------------------------------------


def create_branch(repo: Path, name: str) -> None:
    """Create and switch to ``name`` from a clean state; :class:`GitError` explains a refusal."""
    busy = busy_reason(repo)
    if busy:
        raise GitError(["git", "switch"], f"{busy}; finish or abort it first", 1)
    dirty = tracked_changes(repo)
    if dirty:
        raise GitError(["git", "switch"], f"{len(dirty)} uncommitted change(s) to tracked files "
                       f"({', '.join(dirty[:5])}); commit them first so the new branch starts clean", 1)
    if git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{name}", check=False).returncode == 0:
        raise GitError(["git", "switch"], f"branch {name} already exists; pick another task name", 1)
    git(repo, "switch", "-c", name)


def tag_head(repo: Path, tag: str) -> str:
    """Tag HEAD (lightweight: no identity or signing needed under cron); return the commit."""
    head = head_commit(repo)
    if head is None:
        raise GitError(["git", "tag"], "the branch has no commit yet", 1)
    git(repo, "tag", tag, head)
    return head


def log_lines(repo: Path, count: int = 10) -> list[str]:
    result = git(repo, "log", f"-{count}", "--format=%h %cr %s", check=False)
    return result.stdout.splitlines()


_SAFE_TAG_PART = re.compile(r"[^A-Za-z0-9._-]+")


def tag_part(text: str) -> str:
    """``text`` made safe for a tag name component (``feature/login`` -> ``login`` done by caller)."""
    return _SAFE_TAG_PART.sub("-", text).strip("-.") or "main"


# --- worktrees ----------------------------------------------------------------------------
# Linked work trees (``git worktree``) for agents that each get a folder and branch of their
# own (docs/workflow.md, "Worktrees"). Only plain, refusing forms are here: no ``--force``
# (it would throw away uncommitted work) and no ``prune`` (it prunes every stale worktree of
# the repository, a person's own included).


@dataclass(frozen=True)
class Worktree:
    """One entry of ``git worktree list``: its folder, checked-out branch (None: detached) and HEAD."""

    path: Path
    branch: str | None
    head: str | None
    prunable: bool = False   # git knows it, but its folder is gone


def worktrees(repo: Path) -> list[Worktree]:
    """Every work tree of ``repo``'s repository, the main one first."""
    out = git(repo, "worktree", "list", "--porcelain").stdout
    found: list[Worktree] = []
    for block in out.strip("\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            key, _, value = line.partition(" ")
            fields[key] = value
        if "worktree" not in fields:
            continue
        branch = fields.get("branch")
        found.append(Worktree(Path(fields["worktree"]), branch.removeprefix("refs/heads/") if branch else None,
                              fields.get("HEAD"), "prunable" in fields))
    return found


def branch_exists(repo: Path, branch: str) -> bool:
    return git(repo, "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}", check=False).returncode == 0


def add_worktree(repo: Path, path: Path, branch: str, base: str) -> None:
    """Check out a new branch ``branch`` from ``base`` in a new folder ``path``; GitError if git refuses."""
    git(repo, "worktree", "add", "-q", "-b", branch, str(path), base, timeout=300)


def remove_worktree(repo: Path, path: Path) -> None:
    """Remove the linked work tree at ``path``; git itself refuses one with modified or untracked files."""
    git(repo, "worktree", "remove", str(path))


def delete_merged_branch(repo: Path, branch: str, into: str) -> None:
    """Delete ``branch`` only when ``into`` holds every commit of it; GitError otherwise (nothing deleted)."""
    if git(repo, "merge-base", "--is-ancestor", f"refs/heads/{branch}", f"refs/heads/{into}",
           check=False).returncode != 0:
        raise GitError(["git", "branch", "-d"], f"{branch} has commits that {into} lacks; not deleted", 1)
    # -d (never -D): git checks again that the branch is merged.
    git(repo, "branch", "-q", "-d", branch)


def ahead_behind(repo: Path, branch: str, other: str) -> tuple[int, int] | None:
    """How many commits ``branch`` has that ``other`` lacks, and the reverse; None if either is unknown."""
    result = git(repo, "rev-list", "--left-right", "--count", f"{branch}...{other}", check=False)
    parts = result.stdout.split()
    if result.returncode != 0 or len(parts) != 2:
        return None
    return int(parts[0]), int(parts[1])


def uses_lfs(repo: Path) -> bool:
    """Whether the checked-out ``.gitattributes`` send any file through the LFS filter."""
    attributes = repo / ".gitattributes"
    try:
        return "filter=lfs" in attributes.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def lfs_installed(repo: Path) -> bool:
    return git(repo, "lfs", "version", check=False).returncode == 0

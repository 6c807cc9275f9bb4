"""The git path: backups through a private index next to a working agent, branches, tags.

Every test uses a real git repository in a temp folder.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from orc.core import gitops
GIT_ENV = {**os.environ, "GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": "/dev/null"}


def sh(repo: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, env=GIT_ENV)
    if check and done.returncode:
        raise AssertionError(f"git {' '.join(args)}: {done.stderr}")
    return done.stdout


def make_repo(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    sh(path, "init", "-q", "-b", "main")
    (path / "app.py").write_text("print('v1')\n")
    (path / ".gitignore").write_text("build/\n")
    sh(path, "add", "-A")
    sh(path, "commit", "-q", "-m", "first")
    return path


def index_bytes(repo: Path) -> bytes:
    return (repo / ".git" / "index").read_bytes()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def backup(repo: Path, max_files: int = 50) -> gitops.BackupResult:
    return gitops.backup(repo, max_files=max_files, scratch_dir=repo.parent / "scratch")


def test_backup_records_work_without_touching_index_head_or_tree(repo: Path) -> None:
    (repo / "app.py").write_text("print('v2')\n")
    (repo / "new.py").write_text("x = 1\n")
    (repo / "half.py").write_text("staged\n")
    sh(repo, "add", "half.py")
    (repo / "half.py").write_text("staged then changed\n")  # a half-staged index
    head, index, status = sh(repo, "rev-parse", "HEAD"), index_bytes(repo), sh(repo, "status", "--porcelain")
    result = backup(repo)
    assert result.committed and result.ref == "refs/orc/backup/main" and result.files == 3
    assert sh(repo, "rev-parse", "HEAD") == head
    assert index_bytes(repo) == index and sh(repo, "status", "--porcelain") == status
    assert sh(repo, "show", f"{result.committed}:half.py") == "staged then changed\n"  # the working tree, not the index
    assert sh(repo, "show", f"{result.committed}:app.py") == "print('v2')\n"
    assert sh(repo, "rev-parse", f"{result.committed}^1").strip() == head.strip()
    again = backup(repo)
    assert again.skipped and "nothing changed since the last backup" in again.reason
    (repo / "app.py").write_text("print('v3')\n")
    third = backup(repo)
    assert third.committed and sh(repo, "rev-parse", f"{third.committed}^2").strip() == result.committed


def test_backup_during_a_conflicted_merge_commits_nothing_and_says_why(repo: Path) -> None:
    sh(repo, "switch", "-q", "-c", "other")
    (repo / "app.py").write_text("print('other')\n")
    sh(repo, "commit", "-q", "-am", "other")
    sh(repo, "switch", "-q", "main")
    (repo / "app.py").write_text("print('main')\n")
    sh(repo, "commit", "-q", "-am", "main")
    sh(repo, "merge", "other", check=False)
    assert "<<<<<<<" in (repo / "app.py").read_text()
    refs, index = sh(repo, "for-each-ref"), index_bytes(repo)
    result = backup(repo)
    assert result.skipped and result.reason == "skipped: a merge is in progress; will try again at the next backup"
    assert sh(repo, "for-each-ref") == refs and index_bytes(repo) == index
    assert (repo / ".git" / "MERGE_HEAD").exists()


@pytest.mark.parametrize("marker, reason", [
    ("index.lock", "another git command holds index.lock"),
    ("CHERRY_PICK_HEAD", "a cherry-pick is in progress"),
    ("rebase-merge", "a rebase is in progress"),
])
def test_backup_skips_while_git_is_busy(repo: Path, marker: str, reason: str) -> None:
    (repo / "app.py").write_text("changed\n")
    path = repo / ".git" / marker
    path.mkdir() if marker == "rebase-merge" else path.write_text("")
    result = backup(repo)
    assert result.skipped and reason in result.reason
    assert not sh(repo, "for-each-ref", "refs/orc")


def test_backup_never_stages_secrets_or_conflict_markers(repo: Path) -> None:
    (repo / ".env").write_text("API_KEY=secret\n")
    (repo / "config").mkdir()
    (repo / "config" / ".env.local").write_text("TOKEN=x\n")
    (repo / "deploy.pem").write_text("-----BEGIN PRIVATE KEY-----\n")
    (repo / "id_ed25519").write_text("key\n")
    (repo / "notes.md").write_text("Title\n=======\nplain setext heading, not a conflict\n")
    (repo / "app.py").write_text("<<<<<<< HEAD\nprint('a')\n=======\nprint('b')\n>>>>>>> other\n")
    (repo / "good.py").write_text("ok = True\n")
    result = backup(repo)
    assert result.committed
    files = sh(repo, "ls-tree", "-r", "--name-only", result.committed).split()
    assert "good.py" in files and "notes.md" in files
    assert not {".env", "config/.env.local", "deploy.pem", "id_ed25519"} & set(files)
    assert sh(repo, "show", f"{result.committed}:app.py") == "print('v1')\n"  # HEAD's version kept
    assert result.excluded == ("app.py",) and "conflict markers" in result.reason
    assert "<<<<<<<" not in sh(repo, "grep", "-h", "<<<<<<<", result.committed, check=False)


def test_backup_over_max_files_skips_and_says_so(repo: Path) -> None:
    for i in range(6):
        (repo / f"f{i}.txt").write_text(str(i))
    result = backup(repo, max_files=5)
    assert result.skipped and "6 files changed, more than max_files_per_commit=5" in result.reason
    assert not sh(repo, "for-each-ref", "refs/orc")


def test_backup_with_nothing_to_do_and_on_a_detached_head(repo: Path) -> None:
    assert backup(repo).reason == "skipped: nothing uncommitted to back up"
    sh(repo, "switch", "-q", "--detach")
    (repo / "app.py").write_text("x\n")
    assert "detached" in backup(repo).reason


def test_backup_runs_without_identity_hooks_or_tty(repo: Path, tmp_path: Path) -> None:
    """As under cron: no user.name anywhere, a hook that would block, signing requested."""
    hooks = repo / ".git" / "hooks"
    hook = hooks / "reference-transaction"
    hook.write_text("#!/bin/sh\nsleep 600\n")
    hook.chmod(0o755)
    sh(repo, "config", "commit.gpgSign", "true")
    (repo / "app.py").write_text("under cron\n")
    env = {"HOME": str(tmp_path / "nohome"), "PATH": "/usr/bin:/bin", "GIT_CONFIG_GLOBAL": "/dev/null"}
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        result = gitops.backup(repo, max_files=50, scratch_dir=tmp_path / "scratch")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert result.committed, result.reason
    assert "Tmux Orchestrator" in sh(repo, "log", "-1", "--format=%an", result.committed)


def test_create_branch_from_a_clean_state_only(repo: Path) -> None:
    (repo / "app.py").write_text("dirty\n")
    with pytest.raises(gitops.GitError, match="commit them first"):
        gitops.create_branch(repo, "feature/login")
    sh(repo, "commit", "-q", "-am", "wip")
    gitops.create_branch(repo, "feature/login")
    assert gitops.current_branch(repo) == "feature/login"
    with pytest.raises(gitops.GitError, match="already exists"):
        gitops.create_branch(repo, "feature/login")


def test_repo_facts(repo: Path) -> None:
    (repo / "a.txt").write_text("a")
    (repo / "app.py").write_text("changed")
    facts = gitops.repo_facts(repo)
    assert facts.ok and facts.branch == "main" and facts.uncommitted == 2 and facts.last_commit_subject == "first"
    assert not gitops.repo_facts(repo / "missing").ok

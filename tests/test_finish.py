"""finish on real git repositories: a clean merge, a conflict that leaves the repository exactly as
it was on the feature branch, and the refusals (uncommitted work, failing tests, no main branch)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from test_gitops import sh
from test_team import env, integration, project_entry, repo_with_spec, write_config  # noqa: F401 (fixture)


def project(tmp_path: Path, repo: Path, **extra: object) -> None:
    entry = project_entry(repo, "webapp", "true", "true", **extra)
    write_config(tmp_path, {"webapp": entry})


def feature(repo: Path, name: str, files: dict[str, str]) -> None:
    sh(repo, "switch", "-q", "-c", f"feature/{name}")
    for path, text in files.items():
        (repo / path).write_text(text)
    sh(repo, "add", "-A")
    sh(repo, "commit", "-q", "-m", f"work on {name}")


def repo_state(repo: Path) -> dict[str, str]:
    """Everything `finish` must leave as it was: HEAD, branch, index, working tree, stash."""
    return {
        "head": sh(repo, "rev-parse", "HEAD"),
        "branch": sh(repo, "symbolic-ref", "HEAD"),
        "index": sh(repo, "ls-files", "-s"),
        "status": sh(repo, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "tree": "".join(f"{p.relative_to(repo)}={p.read_bytes()!r}\n" for p in sorted(repo.rglob("*"))
                        if p.is_file() and ".git" not in p.relative_to(repo).parts),
        "stash": sh(repo, "stash", "list"),
        "branches": sh(repo, "for-each-ref", "refs/heads"),
    }


def test_finish_merges_a_tested_feature_branch_no_ff(tmp_path: Path, env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    project(tmp_path, repo)
    feature(repo, "login", {"login.py": "print('login')\n"})
    tip = sh(repo, "rev-parse", "HEAD").strip()

    done = integration("finish", "webapp", env=env)
    assert done.returncode == 0, done.stderr
    assert "merged feature/login into main" in done.stdout
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    parents = sh(repo, "rev-list", "--parents", "-n", "1", "HEAD").split()
    assert len(parents) == 3 and parents[2] == tip  # a merge commit (--no-ff), feature as second parent
    tags = sh(repo, "tag", "--list", "stable-login-*").split()
    assert len(tags) == 1 and sh(repo, "rev-parse", tags[0]).strip() == tip
    assert (repo / "login.py").exists()
    log = (tmp_path / "state" / "git.log").read_text()
    assert " finish project=webapp feature=feature/login into=main result=merged" in log


def test_conflict_leaves_the_repository_exactly_as_it_was_and_a_person_is_told(tmp_path: Path,
                                                                              env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    project(tmp_path, repo)
    feature(repo, "login", {"app.py": "print('feature')\n", "new.py": "x = 1\n"})
    sh(repo, "stash", "list")
    (repo / "notes.txt").write_text("stashed thought\n")
    sh(repo, "add", "notes.txt")
    sh(repo, "stash", "push", "-q", "-m", "a thought")  # a stash must survive too
    (repo / "build").mkdir()
    (repo / "build" / "out.bin").write_text("ignored build output\n")  # ignored files stay
    sh(repo, "switch", "-q", "main")
    (repo / "app.py").write_text("print('main moved on')\n")
    sh(repo, "commit", "-q", "-am", "main changes app.py")
    sh(repo, "switch", "-q", "feature/login")
    before = repo_state(repo)
    notify_log = tmp_path / "notified.txt"
    stand_in = tmp_path / "notify.sh"
    stand_in.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s|" "$a"; done >> {notify_log}\necho >> {notify_log}\n')
    stand_in.chmod(0o755)
    env = {**env, "ORC_NOTIFY_COMMAND": f"{stand_in} --title 'Tmux Orchestrator'"}

    done = integration("finish", "webapp", "login", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "app.py" in done.stderr and "merge conflict" in done.stderr
    assert repo_state(repo) == before
    assert not (repo / ".git" / "MERGE_HEAD").exists()
    attention_log = (tmp_path / "state" / "attention.log").read_text()
    assert "raised subject=webapp reason=merge-conflict" in attention_log and "app.py" in attention_log
    calls = notify_log.read_text().splitlines()
    assert len(calls) == 1
    words = calls[0].split("|")
    assert words[:2] == ["--title", "Tmux Orchestrator"] and "app.py" in words[2] and words[3:] == [""]

    again = integration("finish", "webapp", "login", env=env)
    assert again.returncode == 1 and repo_state(repo) == before
    assert len(notify_log.read_text().splitlines()) == 1  # once until it clears

    # Resolved on the feature branch: finish merges and clears the attention.
    sh(repo, "merge", "-q", "main", "-X", "ours", "-m", "take main in")
    assert integration("finish", "webapp", env=env).returncode == 0
    assert "cleared subject=webapp reason=merge-conflict" in (tmp_path / "state" / "attention.log").read_text()


def test_uncommitted_work_is_refused_and_nothing_changes(tmp_path: Path, env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    project(tmp_path, repo)
    feature(repo, "login", {"login.py": "print('login')\n"})
    for change in ("tracked", "untracked"):
        if change == "tracked":
            (repo / "login.py").write_text("print('edited')\n")
        else:
            sh(repo, "checkout", "--", "login.py")
            (repo / "draft.py").write_text("new file\n")
        before = repo_state(repo)
        done = integration("finish", "webapp", env=env)
        assert done.returncode == 1, done.stdout
        assert "uncommitted change" in done.stderr and "commit them first" in done.stderr
        assert repo_state(repo) == before and not sh(repo, "tag")


def test_failing_tests_are_refused_when_require_tests(tmp_path: Path, env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    project(tmp_path, repo, test_command="test -f login.py && grep -q PASSING login.py")
    feature(repo, "login", {"login.py": "print('broken')\n"})
    before = repo_state(repo)
    done = integration("finish", "webapp", env=env)
    assert done.returncode == 1 and "failed (exit 1)" in done.stderr and "require_tests" in done.stderr
    assert repo_state(repo) == before and not sh(repo, "tag")


@pytest.mark.parametrize("main", ["main", "master", "trunk"])
def test_main_branch_default_detection_and_key(tmp_path: Path, env: dict[str, str], main: str) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    sh(repo, "branch", "-m", main)
    project(tmp_path, repo, **({"main_branch": "trunk"} if main == "trunk" else {}))
    feature(repo, "x", {"x.py": "x = 1\n"})
    done = integration("finish", "webapp", env=env)
    assert done.returncode == 0, done.stderr
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == main


def test_no_main_branch_is_named(tmp_path: Path, env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "webapp")
    sh(repo, "branch", "-m", "develop")
    project(tmp_path, repo)
    feature(repo, "x", {"x.py": "x = 1\n"})
    done = integration("finish", "webapp", env=env)
    assert done.returncode == 1 and "neither a main nor a master branch" in done.stderr
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "feature/x"


def test_finish_waits_for_the_git_lock_a_backup_holds(tmp_path: Path, env: dict[str, str]) -> None:
    from orc.core.locks import named_lock

    repo = repo_with_spec(tmp_path / "webapp")
    project(tmp_path, repo)
    feature(repo, "x", {"x.py": "x = 1\n"})
    state = tmp_path / "state"
    with named_lock(state, "git-webapp", 5):
        running = subprocess.Popen(["python3", str(Path(__file__).parent.parent / "orchestrator_integration.py"),
                                    "finish", "webapp"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            running.wait(timeout=2)
            pytest.fail("finish ran while the backup lock was held")
        except subprocess.TimeoutExpired:
            pass
        assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "feature/x"
    assert running.wait(timeout=60) == 0
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"

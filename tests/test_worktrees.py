"""Each engineer in a git worktree and branch of its own (docs/workflow.md, "Worktrees"): deploy,
backup, status, finish, restart and spawn on real git repositories and a real tmux server, with
the fake agent standing in for Claude Code (the real one is in test_restart_resume_keeps_the_worktree
_in_real_claude at the end)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from support import SUITE, wait_for
from test_finish import repo_state
from test_gitops import sh
from test_team import env, fake_agent, integration, repo_with_spec, submitted, write_config  # noqa: F401 (fixture)
from test_team_resume import report_session, started
from tmux_utils import Tmux

ENGINEERS = ("engineer-1", "engineer-2")


def worktree_project(tmp_path: Path, repo: Path, *, worktree: object = True, members: tuple[str, ...] = ENGINEERS,
                     **extra: object) -> dict[str, Path]:
    """A project manager and ``members`` engineers, each a fake agent; returns each one's record file."""
    records: dict[str, Path] = {}
    team = []
    for role, window in [("project-manager", "PM")] + [(r, f"Dev{i + 1}") for i, r in enumerate(members)]:
        command, records[role] = fake_agent(tmp_path, role)
        team.append({"role": role, "window": window, "command": command, "agent": "claude"})
    entry = {"path": str(repo), "session": "webapp", "spec_file": "SPEC.md", "test_command": "test -f app.py",
             "team": team, "shell_window": None, "worktree": worktree, **extra}
    write_config(tmp_path, {"webapp": entry})
    return records


def folder_of(repo: Path, role: str) -> Path:
    return repo.parent / f"{repo.name}-worktrees" / role


def deploy(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return integration("deploy", "webapp", "--ready-timeout", "20", env=env)


def worktree_state(folder: Path) -> dict[str, str]:
    """What finish must leave as it was in an engineer's worktree: HEAD, branch, index, files."""
    return {
        "head": sh(folder, "rev-parse", "HEAD"),
        "branch": sh(folder, "symbolic-ref", "HEAD"),
        "index": sh(folder, "ls-files", "-s"),
        "status": sh(folder, "status", "--porcelain=v1", "--untracked-files=all"),
        "files": "".join(f"{p.relative_to(folder)}={p.read_bytes()!r}\n" for p in sorted(folder.rglob("*"))
                         if p.is_file() and p.name != ".git"),
    }


@pytest.fixture
def team(tmp_path: Path, env: dict[str, str]) -> dict[str, object]:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    (repo / ".env").write_text("API_KEY=local-secret\n")  # untracked and not ignored: the worst case
    records = worktree_project(tmp_path, repo, worktree={"include": [".env", "missing.cfg"]})
    done = deploy(env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"repo": repo, "records": records, "deploy": done}


def test_each_engineer_gets_its_own_worktree_and_the_manager_stays_in_the_main_checkout(
        team: dict[str, object], tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo, records = team["repo"], team["records"]
    assert isinstance(repo, Path) and isinstance(records, dict)
    for role, window in (("engineer-1", "Dev1"), ("engineer-2", "Dev2")):
        folder = folder_of(repo, role)
        assert sh(folder, "symbolic-ref", "--short", "HEAD").strip() == f"orc/{role}"
        assert sh(folder, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")  # from the main checkout's HEAD
        assert started(records[role])[0]["cwd"] == str(folder)  # the agent's pane starts there
        assert Path(tmux.resolve(f"webapp:{window}").current_path) == folder
        assert (folder / ".env").read_text() == "API_KEY=local-secret\n"  # the include list, copied in
        assert not (folder / "missing.cfg").exists()
        brief = submitted(records[role])[0]
        assert f"your own git worktree, {folder}, on the branch orc/{role}" in brief
        assert f"finish webapp {role}" in brief
    assert started(records["project-manager"])[0]["cwd"] == str(repo)
    assert Path(tmux.resolve("webapp:PM").current_path) == repo
    manager_brief = submitted(records["project-manager"])[0]
    assert "finish webapp <role>" in manager_brief and str(folder_of(repo, "engineer-1")) in manager_brief
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "main"
    record = Path(env["ORC_STATE_DIR"]) / "projects" / "webapp" / "worktrees.txt"
    assert stat.S_IMODE(record.stat().st_mode) == 0o600
    assert stat.S_IMODE(record.parent.stat().st_mode) == 0o700
    lines = [line.split("\t") for line in record.read_text().splitlines() if not line.startswith("#")]
    assert lines == [[r, f"orc/{r}", str(folder_of(repo, r))] for r in ENGINEERS]

    # Deploy again: the suite's own worktrees are reused, nothing is made twice.
    again = deploy(env)
    assert again.returncode == 0, again.stderr
    assert "made the worktree" not in again.stderr
    assert record.read_text().count("\t") == 4


def test_parallel_engineers_never_see_each_others_work_and_finish_merges_one_then_tells_the_conflict(
        team: dict[str, object], tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    repo = team["repo"]
    assert isinstance(repo, Path)
    one, two = folder_of(repo, "engineer-1"), folder_of(repo, "engineer-2")
    (one / "app.py").write_text("print('engineer one')\n")
    assert (two / "app.py").read_text() == "print('v1')\n"  # the other's uncommitted change is not here
    (two / "app.py").write_text("print('engineer two')\n")
    assert (one / "app.py").read_text() == "print('engineer one')\n"
    assert (repo / "app.py").read_text() == "print('v1')\n"

    # The timed backup (what the cron line runs): each worktree to its own branch's ref only.
    tips = {r: sh(repo, "rev-parse", f"orc/{r}") for r in ENGINEERS}
    done = integration("backup", "webapp", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(engineer-1): backed up 1 file(s) to refs/orc/backup/orc/engineer-1" in done.stdout
    assert sh(repo, "show", "refs/orc/backup/orc/engineer-1:app.py") == "print('engineer one')\n"
    assert sh(repo, "show", "refs/orc/backup/orc/engineer-2:app.py") == "print('engineer two')\n"
    assert {r: sh(repo, "rev-parse", f"orc/{r}") for r in ENGINEERS} == tips  # no branch moved
    assert sh(repo, "rev-parse", "-q", "--verify", "refs/orc/backup/main", check=False) == ""  # .env is a secret
    for r in ENGINEERS:
        assert sh(repo, "ls-tree", "--name-only", f"refs/orc/backup/orc/{r}").split().count(".env") == 0

    sh(one, "commit", "-q", "-am", "engineer one's version")
    sh(two, "commit", "-q", "-am", "engineer two's version")
    assert sh(one, "log", "--format=%s", "main..HEAD").splitlines() == ["engineer one's version"]
    assert sh(two, "log", "--format=%s", "main..HEAD").splitlines() == ["engineer two's version"]

    status = integration("status", "webapp", "--json", env=env)
    assert status.returncode == 0, status.stderr
    trees = {t["role"]: t for t in json.loads(status.stdout)[0]["worktrees"]}
    assert trees["engineer-1"]["branch"] == "orc/engineer-1" and trees["engineer-1"]["path"] == str(one)
    assert (trees["engineer-1"]["ahead"], trees["engineer-1"]["behind"]) == (1, 0)
    assert trees["engineer-1"]["uncommitted"] == 1  # the copied .env, untracked
    assert trees["engineer-1"]["last_commit_subject"] == "engineer one's version"
    text = integration("status", "webapp", env=env).stdout
    assert "worktree engineer-2: branch orc/engineer-2 | 1 ahead, 0 behind the main branch" in text

    merged = integration("finish", "webapp", "engineer-1", env=env)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert "merged orc/engineer-1 into main" in merged.stdout
    assert f"removed the worktree {one} and the branch orc/engineer-1" in merged.stdout
    assert (repo / "app.py").read_text() == "print('engineer one')\n"
    parents = sh(repo, "rev-list", "--parents", "-n", "1", "main").split()
    assert len(parents) == 3  # --no-ff: one merge commit
    assert not one.exists() and sh(repo, "branch", "--list", "orc/engineer-1") == ""
    assert sh(repo, "tag", "--list", "stable-engineer-1-*").strip()
    assert (repo / ".env").read_text() == "API_KEY=local-secret\n"  # the main checkout's own is untouched

    before_main, before_two = repo_state(repo), worktree_state(two)
    conflict = integration("finish", "webapp", "engineer-2", env=env)
    assert conflict.returncode == 1, conflict.stdout + conflict.stderr
    assert "merge conflict in app.py" in conflict.stderr and f"{two} are as they were" in conflict.stderr
    assert repo_state(repo) == before_main and worktree_state(two) == before_two
    assert two.is_dir() and sh(repo, "branch", "--list", "orc/engineer-2").strip()

    # The manager looking at an older commit (a detached HEAD): it is where it was afterwards too.
    sh(repo, "switch", "-q", "--detach", "HEAD~1")
    detached = (sh(repo, "rev-parse", "HEAD"), sh(repo, "status", "--porcelain=v1", "--untracked-files=all"))
    assert integration("finish", "webapp", "engineer-2", env=env).returncode == 1
    assert sh(repo, "symbolic-ref", "-q", "HEAD", check=False) == ""
    assert (sh(repo, "rev-parse", "HEAD"), sh(repo, "status", "--porcelain=v1", "--untracked-files=all")) == detached
    assert worktree_state(two) == before_two
    sh(repo, "switch", "-q", "main")
    attention = (tmp_path / "state" / "attention.log").read_text()
    assert "raised subject=webapp reason=merge-conflict" in attention and "app.py" in attention

    # The finished engineer's next task: a restart gives it a new worktree from the main branch.
    assert "restart webapp engineer-1 --resume" in merged.stdout
    again = integration("restart", "webapp", "engineer-1", "--ready-timeout", "20", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert sh(one, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")
    assert sh(one, "symbolic-ref", "--short", "HEAD").strip() == "orc/engineer-1"


def test_a_worktree_deleted_by_hand_is_named_and_not_made_again(team: dict[str, object], tmp_path: Path,
                                                                env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    import shutil

    repo = team["repo"]
    assert isinstance(repo, Path)
    gone = folder_of(repo, "engineer-2")
    shutil.rmtree(gone)
    done = integration("restart", "webapp", "engineer-2", "--ready-timeout", "20", env=env)
    assert done.returncode == 1
    assert len(done.stderr.strip().splitlines()) == 1
    assert f"the worktree of webapp/engineer-2 at {gone} was deleted by hand" in done.stderr
    assert f"worktree add {gone} orc/engineer-2" in done.stderr
    assert not gone.exists()
    status = json.loads(integration("status", "webapp", "--json", env=env).stdout)[0]
    trees = {t["role"]: t for t in status["worktrees"]}
    assert "deleted by hand" in trees["engineer-2"]["problem"] and trees["engineer-1"]["problem"] is None

    tmux.kill_session("webapp")  # a reboot: deploy must not make it again either
    again = deploy(env)
    assert again.returncode == 1 and not gone.exists()
    assert "engineer-2" in again.stdout and "deleted by hand" in again.stdout
    refused = integration("finish", "webapp", "engineer-2", env=env)
    assert refused.returncode == 1 and "was deleted by hand" in refused.stderr

    # The person puts it back from the branch, as the message says: it is the suite's own again.
    sh(repo, "worktree", "prune")
    sh(repo, "worktree", "add", "-q", str(gone), "orc/engineer-2")
    assert deploy(env).returncode == 0


def test_a_folder_or_branch_the_suite_did_not_make_is_refused_and_left_alone(tmp_path: Path,
                                                                            env: dict[str, str]) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    worktree_project(tmp_path, repo)
    sh(repo, "branch", "orc/engineer-1")  # a person's branch of that name
    mine = folder_of(repo, "engineer-2")
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("a person's folder\n")
    done = deploy(env)
    assert done.returncode == 1
    assert "the branch orc/engineer-1 already exists and the suite did not make it" in done.stdout
    assert f"{mine} already exists and the suite did not make it" in done.stdout
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    listed = [line for line in sh(repo, "worktree", "list", "--porcelain").splitlines() if line.startswith("worktree ")]
    assert listed == [f"worktree {repo}"]  # still only the main checkout
    assert not (Path(env["ORC_STATE_DIR"]) / "projects" / "webapp" / "worktrees.txt").exists()


def test_finish_never_loses_work_and_keep_keeps_both(team: dict[str, object], env: dict[str, str]) -> None:  # noqa: F811
    repo = team["repo"]
    assert isinstance(repo, Path)
    one = folder_of(repo, "engineer-1")
    (one / "login.py").write_text("print('login')\n")
    before = worktree_state(one)
    refused = integration("finish", "webapp", "engineer-1", env=env)
    assert refused.returncode == 1 and "uncommitted change(s)" in refused.stderr and "login.py" in refused.stderr
    assert worktree_state(one) == before and not sh(repo, "tag")

    (one / ".env").write_text("API_KEY=changed-by-the-engineer\n")  # no longer the copy: it is work
    sh(one, "add", "login.py")
    sh(one, "commit", "-q", "-m", "login")
    refused = integration("finish", "webapp", "engineer-1", env=env)
    assert refused.returncode == 1 and ".env" in refused.stderr
    (one / ".env").write_text("API_KEY=local-secret\n")

    # An ignored include file changed by the engineer is work too (git worktree remove would delete it).
    (repo / ".gitignore").write_text("build/\n.env\n")
    sh(repo, "commit", "-q", "-am", "ignore .env")
    sh(one, "merge", "-q", "main")
    (one / ".env").write_text("API_KEY=changed-again\n")
    refused = integration("finish", "webapp", "engineer-1", env=env)
    assert refused.returncode == 1 and ".env" in refused.stderr and "uncommitted" in refused.stderr
    (one / ".env").write_text("API_KEY=local-secret\n")

    kept = integration("finish", "webapp", "engineer-1", "--keep", env=env)
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "kept the worktree" in kept.stdout and one.is_dir()
    assert sh(repo, "branch", "--list", "orc/engineer-1").strip()
    assert (repo / "login.py").exists()

    usage = integration("finish", "webapp", "login", "--keep", env=env)
    assert usage.returncode == 2 and "--keep is for an engineer's worktree" in usage.stderr


def test_stable_tests_and_tags_the_engineers_worktree(team: dict[str, object], env: dict[str, str]) -> None:  # noqa: F811
    repo = team["repo"]
    assert isinstance(repo, Path)
    two = folder_of(repo, "engineer-2")
    sh(two, "rm", "-q", "app.py")
    sh(two, "commit", "-q", "-m", "remove app.py")
    failed = integration("stable", "webapp", "engineer-2", env=env)
    assert failed.returncode == 1 and "not tagged" in failed.stderr  # its test ran in the worktree
    assert integration("stable", "webapp", env=env).returncode == 0  # the main checkout still has app.py
    one_tip = sh(repo, "rev-parse", "orc/engineer-1").strip()
    done = integration("stable", "webapp", "engineer-1", env=env)
    assert done.returncode == 0, done.stderr
    tag = sh(repo, "tag", "--list", "stable-engineer-1-*").split()
    assert len(tag) == 1 and sh(repo, "rev-parse", tag[0]).strip() == one_tip
    # `branch` from inside a worktree would switch the manager's main checkout: refused, nothing changed.
    inside = subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), "branch", "webapp", "x"],
                            env=env, cwd=two, capture_output=True, text=True, timeout=60)
    assert inside.returncode == 1 and "you are in engineer-2's worktree" in inside.stderr
    assert sh(repo, "symbolic-ref", "--short", "HEAD").strip() == "main" and not sh(repo, "branch", "--list", "feature/x")
    usage = integration("stable", "webapp", "project-manager", env=env)
    assert usage.returncode == 2 and "engineers with a worktree: engineer-1, engineer-2" in usage.stderr


def test_restart_resume_and_deploy_resume_come_back_in_the_same_worktree(team: dict[str, object], tmp_path: Path,
                                                                         env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo, records = team["repo"], team["records"]
    assert isinstance(repo, Path) and isinstance(records, dict)
    one = folder_of(repo, "engineer-1")
    (one / "wip.py").write_text("half done\n")
    report_session(str(started(records["engineer-1"])[0]["settings"]), tmux.resolve("webapp:Dev1").pane_id,
                   env["ORC_TMUX_SOCKET"], "sess-one")
    done = integration("restart", "webapp", "engineer-1", "--resume", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "refs/orc/backup/orc/engineer-1" in done.stdout  # the snapshot of its own worktree
    again = wait_for(lambda: started(records["engineer-1"])[1:], what="the engineer restarted")
    assert again[0]["resume"] == "sess-one" and again[0]["cwd"] == str(one)  # type: ignore[index]
    note = wait_for(lambda: [t for t in submitted(records["engineer-1"]) if "conversation was resumed" in t],
                    what="the resume note")
    assert f"in your worktree {one}" in note[0] and "branch orc/engineer-1" in note[0]  # type: ignore[index]
    assert (one / "wip.py").read_text() == "half done\n"

    tmux.kill_session("webapp")
    resumed = integration("deploy", "webapp", "--resume", "--ready-timeout", "20", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    last = started(records["engineer-1"])[-1]
    assert last["resume"] == "sess-one" and last["cwd"] == str(one)
    assert started(records["engineer-2"])[-1]["cwd"] == str(folder_of(repo, "engineer-2"))


def test_spawn_into_a_worktree_project_gives_the_new_engineer_its_own(team: dict[str, object], tmp_path: Path,
                                                                      env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = team["repo"]
    assert isinstance(repo, Path)
    command, record = fake_agent(tmp_path, "spawned")
    done = integration("spawn", "webapp:Dev3", "--role", "engineer-3", "--project", "webapp", "--command", command,
                       "--agent", "claude", "--brief", "Write the reset form", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    three = folder_of(repo, "engineer-3")
    assert started(record)[0]["cwd"] == str(three)
    assert sh(three, "symbolic-ref", "--short", "HEAD").strip() == "orc/engineer-3"
    (three / "reset.py").write_text("def reset(): ...\n")
    sh(three, "add", "reset.py")
    sh(three, "commit", "-q", "-m", "reset form")
    merged = integration("finish", "webapp", "engineer-3", env=env)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert (repo / "reset.py").exists() and not three.exists()


def deploy_refuses_the_engineer(tmp_path: Path, repo: Path, env: dict[str, str], *said: str) -> None:
    """``deploy`` of a worktree project with one engineer exits 1, says why in that engineer's
    one line (each of ``said``), and makes no folder for it."""
    worktree_project(tmp_path, repo, members=("engineer-1",))
    done = deploy(env)
    assert done.returncode == 1
    line = [x for x in done.stdout.splitlines() if "engineer-1" in x]
    assert len(line) == 1 and all(text in line[0] for text in said), line
    assert not folder_of(repo, "engineer-1").exists()


def test_a_repository_with_submodules_is_refused_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    (repo / ".gitmodules").write_text('[submodule "lib"]\n\tpath = lib\n\turl = ../lib\n')
    sh(repo, "add", ".gitmodules")
    sh(repo, "commit", "-q", "-m", "submodule")
    deploy_refuses_the_engineer(tmp_path, repo, env, "has submodules (.gitmodules)", '"worktree": false')


def test_lfs_files_without_git_lfs_are_refused_in_one_line(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    """Where git-lfs is installed a worktree's checkout runs its filter; without it the worktree
    would hold pointer files, so the suite refuses (this machine has no git-lfs: the refusal)."""
    from orc.core import gitops

    repo = repo_with_spec(tmp_path / "webapp")
    if gitops.lfs_installed(repo):
        pytest.skip("git-lfs is installed here: the refusal cannot happen")
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    sh(repo, "add", ".gitattributes")
    sh(repo, "commit", "-q", "-m", "lfs")
    deploy_refuses_the_engineer(tmp_path, repo, env, "Git LFS", "install git-lfs")


@pytest.mark.parametrize("worktree, key, message", [
    ("yes", "webapp.worktree", "expected true, false, or an object"),
    ({"folder": "webapp/inside"}, "webapp.worktree.folder", "inside the project folder"),
    ({"base": "--orphan"}, "webapp.worktree.base", "a branch, tag or commit"),
    ({"include": ["../secrets"]}, "webapp.worktree.include[0]", "no '..'"),
    ({"prefix": "x/"}, "webapp.worktree.prefix", "is not a known key"),
])
def test_bad_worktree_settings_are_named_and_nothing_starts(worktree: object, key: str, message: str, tmp_path: Path,
                                                            env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    worktree_project(tmp_path, repo, worktree=worktree)
    done = deploy(env)
    assert done.returncode == 2
    assert f"{key}: " in done.stderr and message in done.stderr
    assert not tmux.has_session("webapp") and not folder_of(repo, "engineer-1").exists()


def test_the_project_manager_cannot_have_a_worktree(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    worktree_project(tmp_path, repo)
    config = json.loads((tmp_path / "project_configs.json").read_text())
    config["webapp"]["team"][0]["worktree"] = True
    (tmp_path / "project_configs.json").write_text(json.dumps(config))
    done = integration("validate", env=env)
    assert done.returncode == 2 and "webapp.team[0].worktree: gives the project manager a worktree" in done.stderr


# --- the real Claude Code (end-to-end tier) -------------------------------------------------


def transcript_folder(home: Path, cwd: Path) -> Path:
    """Where Claude Code keeps the conversations of a folder (docs/agent-record.md): the cwd with
    every character other than a letter or digit turned into '-'."""
    import re

    return home / ".claude" / "projects" / re.sub(r"[^A-Za-z0-9]", "-", str(cwd))


@pytest.mark.e2e
def test_restart_resume_keeps_the_worktree_in_real_claude(claude_binary: Path, tmp_path: Path,
                                                          env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    """Claude Code stores a conversation by the folder it runs in, so a resume only finds it when
    the agent comes back in its own worktree: the stand-in API sees the earlier turn again, with
    the worktree as the working directory."""
    sys.path.insert(0, str(SUITE / "tests" / "e2e"))
    from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
    from fake_anthropic_api import FakeAnthropicAPI

    repo = repo_with_spec(tmp_path / "webapp")
    tree = folder_of(repo, "engineer-1")
    home = tmp_path / "home"
    prepare_claude_home(home, repo, FAKE_API_KEY)
    config = json.loads((home / ".claude.json").read_text())
    # The new worktree is a folder Claude Code has not seen: trusted here as a person would answer
    # its trust dialog once (docs/workflow.md, "Worktrees").
    config["projects"][str(tree)] = config["projects"][str(repo.resolve())]
    (home / ".claude.json").write_text(json.dumps(config))
    with FakeAnthropicAPI() as api:
        # A wrapper that starts Claude Code where tmux started the pane: no `cd` of its own.
        line = claude_command(claude_binary, claude_env(home, api.base_url, FAKE_API_KEY), repo)
        wrapper = tmp_path / "claude-agent"
        wrapper.write_text(f"#!/bin/sh\n{line.split(' && ', 1)[1]} \"$@\"\n")
        wrapper.chmod(0o755)
        records = worktree_project(tmp_path, repo, members=("engineer-1",))
        config_file = tmp_path / "project_configs.json"
        projects = json.loads(config_file.read_text())
        projects["webapp"]["team"][1]["command"] = str(wrapper)
        config_file.write_text(json.dumps(projects))
        done = integration("deploy", "webapp", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert records  # the project manager is the fake agent
        dev = tmux.resolve("webapp:Dev1").pane_id
        from orc.record.snapshot import look

        wait_for(lambda: look(tmux, dev).state == "idle", timeout=60, what="the briefing answered")
        sent = subprocess.run([str(SUITE / "send_message.sh"), "webapp:Dev1", "Remember the word HERON-7"],
                              env=env, capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: any("HERON-7" in t for t in api.turns()), timeout=60, what="the turn to reach the API")
        wait_for(lambda: look(tmux, dev).state == "idle", timeout=60, what="the turn to end")
        from orc.record.hook_events import agent_reports

        session = agent_reports(Path(env["ORC_STATE_DIR"]))["webapp.engineer-1"].session_id
        assert session
        assert (transcript_folder(home, tree) / f"{session}.jsonl").is_file()  # kept by the worktree's folder

        count = len(api.requests())
        done = integration("restart", "webapp", "engineer-1", "--resume", "--ready-timeout", "60", env=env,
                           timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert Path(tmux.resolve("webapp:Dev1").current_path) == tree

        def resumed_turn() -> list[object]:
            return [r for r in api.requests()[count:] if isinstance(r.body, dict) and r.body.get("tools")
                    and "conversation was resumed" in json.dumps(r.body.get("messages"))]
        found = wait_for(resumed_turn, timeout=60, what="the resume note to reach the API")
        body = found[0].body  # type: ignore[index,attr-defined]
        earlier = json.dumps(body["messages"][:-1])
        assert "HERON-7" in earlier and "your own git worktree" in earlier  # the conversation came back
        # Claude Code's environment message (role "system", 2.1.x) names the folder it runs in: the
        # worktree, not the main checkout.
        environment = json.dumps([m for m in body["messages"] if m.get("role") == "system"])
        assert f"Primary working directory: {tree}\\n" in environment
        assert f"in your worktree {tree}" in json.dumps(body["messages"])
        wait_for(lambda: look(tmux, dev).state == "idle", timeout=60, what="the resume note answered")

        # Finished and taken away, then a new worktree in the same folder: the conversation goes on.
        (tree / "feature.py").write_text("done = True\n")
        sh(tree, "add", "feature.py")
        sh(tree, "commit", "-q", "-m", "the feature")
        finished = integration("finish", "webapp", "engineer-1", env=env)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        assert not tree.exists() and (repo / "feature.py").exists()
        count = len(api.requests())
        done = integration("restart", "webapp", "engineer-1", "--resume", "--ready-timeout", "60", env=env,
                           timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert sh(tree, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")
        found = wait_for(resumed_turn, timeout=60, what="the second resume note to reach the API")
        body = found[0].body  # type: ignore[index,attr-defined]
        assert "HERON-7" in json.dumps(body["messages"][:-1])
        environment = json.dumps([m for m in body["messages"] if m.get("role") == "system"])
        assert f"Primary working directory: {tree}\\n" in environment


def test_base_ref_folder_prefix_and_a_members_own_key(tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    """The settings a person controls: where the worktrees go, what they start from, the branch
    prefix, folders in the include list, and a member asking for one in a project that did not."""
    repo = repo_with_spec(tmp_path / "webapp")
    (repo / "config").mkdir()
    (repo / "config" / "local.json").write_text("{}\n")
    sh(repo, "switch", "-q", "-c", "feature/elsewhere")  # the main checkout is not on the base
    (repo / "elsewhere.txt").write_text("not on main\n")
    sh(repo, "add", "elsewhere.txt")
    sh(repo, "commit", "-q", "-m", "elsewhere")
    worktree_project(tmp_path, repo, members=("engineer-1",),
                     worktree={"folder": "trees", "base": "main", "branch_prefix": "agents/", "include": ["config"]})
    done = deploy(env)
    assert done.returncode == 0, done.stdout + done.stderr
    tree = tmp_path / "trees" / "engineer-1"  # relative to the config file's folder
    assert sh(tree, "symbolic-ref", "--short", "HEAD").strip() == "agents/engineer-1"
    assert sh(tree, "rev-parse", "HEAD") == sh(repo, "rev-parse", "main")
    assert not (tree / "elsewhere.txt").exists()
    assert (tree / "config" / "local.json").read_text() == "{}\n"

    from orc.teams.project_config import parse_config

    team = [{"role": "project-manager", "window": "PM"}, {"role": "engineer", "window": "Dev", "worktree": True},
            {"role": "qa", "window": "QA"}]
    config = parse_config(json.dumps({"api": {"path": str(repo), "spec_file": "SPEC.md", "test_command": "true",
                                              "team": team}}), tmp_path / "p.json")
    project = config.projects[0]
    assert project.worktrees is not None and project.worktrees.folder == tmp_path / "webapp-worktrees"
    assert project.worktrees.branch_prefix == "orc/" and project.worktrees.base is None
    assert [(m.role, m.worktree) for m in project.team] == [("project-manager", False), ("engineer", True),
                                                            ("qa", False)]


def test_turned_on_for_a_running_team_an_engineer_moves_in_at_its_next_restart(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    records = worktree_project(tmp_path, repo, worktree=False, members=("engineer-1",))
    assert deploy(env).returncode == 0
    assert started(records["engineer-1"])[0]["cwd"] == str(repo)
    config = json.loads((tmp_path / "project_configs.json").read_text())
    config["webapp"]["worktree"] = True
    (tmp_path / "project_configs.json").write_text(json.dumps(config))
    status = json.loads(integration("status", "webapp", "--json", env=env).stdout)[0]
    assert "not made yet" in status["worktrees"][0]["problem"]
    done = integration("restart", "webapp", "engineer-1", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    tree = folder_of(repo, "engineer-1")
    assert wait_for(lambda: started(records["engineer-1"])[1:], what="the restart")[0]["cwd"] == str(tree)  # type: ignore[index]
    assert Path(tmux.resolve("webapp:Dev1").current_path) == tree


def test_a_base_ref_that_does_not_exist_is_one_line_and_leaves_nothing(tmp_path: Path, env: dict[str, str]) -> None:  # noqa: F811
    repo = repo_with_spec(tmp_path / "webapp")
    worktree_project(tmp_path, repo, worktree={"base": "no-such-branch"}, members=("engineer-1",))
    done = deploy(env)
    assert done.returncode == 1
    line = [x for x in done.stdout.splitlines() if "engineer-1" in x]
    assert len(line) == 1 and "git could not make the worktree" in line[0] and "no-such-branch" in line[0]
    assert not (repo.parent / "webapp-worktrees").exists()
    assert sh(repo, "branch", "--list", "orc/*") == ""


@pytest.mark.e2e
def test_two_real_claude_engineers_edit_the_same_file_in_parallel_worktrees_and_finish_tells_the_conflict(
        claude_binary: Path, tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:  # noqa: F811
    """Issue 20's done-when with the real Claude Code: two engineers change app.py through their own
    Bash tool, each in its worktree; neither sees the other's uncommitted change; both commit on
    their own branch; finish merges the first and leaves the second's conflict clean and told."""
    sys.path.insert(0, str(SUITE / "tests" / "e2e"))
    from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
    from fake_anthropic_api import FakeAnthropicAPI
    from orc.record.snapshot import look

    repo = repo_with_spec(tmp_path / "webapp")
    sh(repo, "config", "user.name", "Engineer")  # the agents' commits (their worktrees share it)
    sh(repo, "config", "user.email", "engineer@example.invalid")
    home = tmp_path / "home"
    prepare_claude_home(home, repo, FAKE_API_KEY, "default")
    config = json.loads((home / ".claude.json").read_text())
    # Trust for the worktrees' folder covers each worktree under it (docs/workflow.md, "Worktrees").
    config["projects"][str(repo.parent / "webapp-worktrees")] = config["projects"][str(repo.resolve())]
    (home / ".claude.json").write_text(json.dumps(config))
    claude_settings = home / ".claude" / "settings.json"
    data = json.loads(claude_settings.read_text())
    data["permissions"]["allow"] = ["Bash"]  # as a team configures it: the Bash tool runs without a dialog
    claude_settings.write_text(json.dumps(data))
    with FakeAnthropicAPI() as one_api, FakeAnthropicAPI() as two_api:
        apis = {"engineer-1": one_api, "engineer-2": two_api}
        records = worktree_project(tmp_path, repo)
        config_file = tmp_path / "project_configs.json"
        projects = json.loads(config_file.read_text())
        for i, role in enumerate(ENGINEERS):
            line = claude_command(claude_binary, claude_env(home, apis[role].base_url, FAKE_API_KEY), repo)
            wrapper = tmp_path / f"claude-{role}"
            wrapper.write_text(f"#!/bin/sh\n{line.split(' && ', 1)[1]} \"$@\"\n")  # no cd: where tmux starts it
            wrapper.chmod(0o755)
            projects["webapp"]["team"][i + 1]["command"] = str(wrapper)
        config_file.write_text(json.dumps(projects))
        done = integration("deploy", "webapp", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert records
        panes = {role: tmux.resolve(f"webapp:Dev{i + 1}").pane_id for i, role in enumerate(ENGINEERS)}
        for role in ENGINEERS:
            wait_for(lambda: look(tmux, panes[role]).state == "idle", timeout=60, what=f"{role} briefed")

        def bash(role: str, command: str, n: int) -> str:
            """Have ``role``'s Claude Code run ``command`` with its Bash tool; the tool's output."""
            apis[role].script_next_reply_tool_use("Bash", {"command": command, "description": "work on app.py"})
            sent = subprocess.run([str(SUITE / "send_message.sh"), f"webapp:Dev{ENGINEERS.index(role) + 1}",
                                   f"Step {n}: run the command"], env=env, capture_output=True, text=True, timeout=60)
            assert sent.returncode == 0, sent.stderr
            result = apis[role].wait_for_tool_results(n, timeout=120)[n - 1]
            assert not result.is_error, result.content
            wait_for(lambda: look(tmux, panes[role]).state == "idle", timeout=60, what=f"{role}'s turn to end")
            return str(result.content)

        seen = bash("engineer-1", "printf \"print('engineer one')\\n\" > app.py && pwd && cat app.py", 1)
        assert str(folder_of(repo, "engineer-1")) in seen and "engineer one" in seen
        seen = bash("engineer-2", "cat app.py && printf \"print('engineer two')\\n\" > app.py && pwd", 1)
        assert "print('v1')" in seen and "engineer one" not in seen  # not the other's uncommitted change
        seen = bash("engineer-1", "cat app.py && git commit -qam 'engineer one' && git log -1 --format=%s%n%D", 2)
        assert "engineer two" not in seen and "engineer one" in seen and "orc/engineer-1" in seen
        seen = bash("engineer-2", "git commit -qam 'engineer two' && git log -1 --format=%s%n%D", 2)
        assert "engineer two" in seen and "orc/engineer-2" in seen
        assert (repo / "app.py").read_text() == "print('v1')\n"  # the main checkout saw neither

        merged = integration("finish", "webapp", "engineer-1", env=env)
        assert merged.returncode == 0, merged.stdout + merged.stderr
        assert (repo / "app.py").read_text() == "print('engineer one')\n"
        two = folder_of(repo, "engineer-2")
        before_main, before_two = repo_state(repo), worktree_state(two)
        conflict = integration("finish", "webapp", "engineer-2", env=env)
        assert conflict.returncode == 1 and "merge conflict in app.py" in conflict.stderr
        assert repo_state(repo) == before_main and worktree_state(two) == before_two
        assert "reason=merge-conflict" in (Path(env["ORC_STATE_DIR"]) / "attention.log").read_text()

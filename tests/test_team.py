"""Teams from a config: deploy on a real tmux server with the fake agent, real git repositories,
a scratch crontab (ORC_CRONTAB_FILE); then restart, broadcast, backup under cron's bare
environment, stable, branch and stop through the command line a person uses."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from support import FAKE_AGENT, SUITE, wait_for
from test_gitops import GIT_ENV, make_repo, sh
from tmux_utils import Tmux
from orc.record.snapshot import look


def fake_agent(tmp_path: Path, name: str, *options: str) -> tuple[str, Path]:
    record = tmp_path / f"{name}.jsonl"
    command = shlex.join([sys.executable, str(FAKE_AGENT), "--record", str(record), *options])
    return command, record


def submitted(record: Path) -> list[str]:
    if not record.exists():
        return []
    return [str(e["text"]) for e in map(json.loads, record.read_text().splitlines()) if e.get("event") == "submitted"]


def write_config(tmp_path: Path, projects: dict[str, dict[str, object]]) -> Path:
    file = tmp_path / "project_configs.json"
    file.write_text(json.dumps(projects, indent=2))
    return file


def project_entry(repo: Path, session: str, pm: str, dev: str, **extra: object) -> dict[str, object]:
    """A two-agent project. Both commands stand in for Claude Code (the fake agent, a wrapper
    script that starts the real one), so the config marks them ``"agent": "claude"``: they
    take Claude's flags (--settings for the hooks, --resume), as Claude Code does."""
    return {
        "path": str(repo), "session": session, "spec_file": "SPEC.md", "git_commit_interval": 1800,
        "check_in_interval": 1800, "branch_prefix": "feature/", "test_command": "test -f app.py",
        "constraints": {"max_files_per_commit": 20, "require_tests": True},
        "team": [{"role": "project-manager", "window": "PM", "command": pm, "agent": "claude"},
                 {"role": "engineer", "window": "Dev", "command": dev, "agent": "claude"}],
        "shell_window": "Shell", **extra,
    }


@pytest.fixture
def env(orc_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    return {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"),
            "ORC_PROJECT_CONFIG": str(tmp_path / "project_configs.json"), "SHELL": "/bin/sh"}


def integration(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), *args], env=env,
                          capture_output=True, text=True, timeout=timeout)


def repo_with_spec(path: Path) -> Path:
    repo = make_repo(path)
    (repo / "SPEC.md").write_text("Build a login form with email and password.\n")
    sh(repo, "add", "SPEC.md")
    sh(repo, "commit", "-q", "-m", "spec")
    return repo


@pytest.fixture
def deployed(tmp_path: Path, env: dict[str, str], tmux: Tmux) -> dict[str, object]:
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    dev, dev_record = fake_agent(tmp_path, "dev")
    write_config(tmp_path, {"webapp": project_entry(repo, "webapp", pm, dev)})
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"repo": repo, "pm": pm_record, "dev": dev_record, "first": done}


def test_deploy_starts_and_briefs_a_two_agent_team_and_installs_cron(deployed: dict[str, object], tmux: Tmux,
                                                                    tmp_path: Path, env: dict[str, str]) -> None:
    pm_record, dev_record, repo = deployed["pm"], deployed["dev"], deployed["repo"]
    assert isinstance(pm_record, Path) and isinstance(dev_record, Path) and isinstance(repo, Path)
    windows = sorted(p.window_name for p in tmux.list_windows() if p.session == "webapp")
    assert windows == ["Dev", "PM", "Shell"]
    for record, role in ((pm_record, "project-manager"), (dev_record, "engineer")):
        briefs = submitted(record)
        assert len(briefs) == 1, briefs
        assert f"You are the {role} of the project \"webapp\"" in briefs[0]
        assert str(repo / "SPEC.md") in briefs[0] and "Build a login form" in briefs[0]
        assert f"{SUITE}/CLAUDE.md" in briefs[0]
    crontab = (tmp_path / "crontab").read_text()
    assert "# orc:bk-webapp git backup of webapp every 30m" in crontab
    assert f"{SUITE}/orc integration backup webapp" in crontab
    assert f"ORC_PROJECT_CONFIG={tmp_path}/project_configs.json" in crontab  # cron finds the same file
    assert crontab.count(" # orc:ck-") == 1 and "every 30m for webapp:PM" in crontab

    again = integration("deploy", "webapp", env=env)
    assert again.returncode == 0, again.stderr
    assert "all windows already there" in again.stdout and "already briefed" in again.stdout
    assert sorted(p.window_name for p in tmux.list_windows() if p.session == "webapp") == windows
    assert len(submitted(pm_record)) == 1 and len(submitted(dev_record)) == 1
    assert (tmp_path / "crontab").read_text().count(" # orc:") == crontab.count(" # orc:")


def test_broadcast_restart_and_stop(deployed: dict[str, object], tmux: Tmux, tmp_path: Path,
                                    env: dict[str, str]) -> None:
    pm_record, dev_record, repo = deployed["pm"], deployed["dev"], deployed["repo"]
    assert isinstance(pm_record, Path) and isinstance(dev_record, Path) and isinstance(repo, Path)
    sent = integration("broadcast", "Demo at 15:00", env=env)
    assert sent.returncode == 0, sent.stderr
    wait_for(lambda: any("Demo at 15:00" in t for t in submitted(pm_record)), what="the broadcast")
    assert not any("Demo" in t for t in submitted(dev_record))

    (repo / "app.py").write_text("print('unsaved work')\n")
    dev_pane = tmux.resolve("webapp:Dev").pane_id
    old_pid = tmux.pane_pid(dev_pane)
    done = integration("restart", "webapp", "engineer", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stderr
    assert tmux.resolve("webapp:Dev").pane_id == dev_pane and tmux.pane_pid(dev_pane) != old_pid
    brief = submitted(dev_record)[-1]
    assert "You were restarted" in brief and "recent commits" in brief and "spec" in brief
    assert "refs/orc/backup/main" in brief
    assert sh(repo, "show", "refs/orc/backup/main:app.py") == "print('unsaved work')\n"
    assert (repo / "app.py").read_text() == "print('unsaved work')\n"

    stopped = integration("stop", "webapp", "--kill", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert " # orc:" not in (tmp_path / "crontab").read_text()
    assert not tmux.has_session("webapp")
    assert "killed session webapp" in stopped.stdout and "no session webapp to kill" not in stopped.stdout
    again = integration("stop", "webapp", "--kill", env=env)
    assert again.returncode == 0 and "no session webapp to kill" in again.stdout, again.stdout + again.stderr


def test_backup_line_runs_under_a_bare_cron_environment(deployed: dict[str, object], tmp_path: Path) -> None:
    repo = deployed["repo"]
    assert isinstance(repo, Path)
    (repo / "app.py").write_text("print('work')\n")
    (repo / ".env").write_text("SECRET=1\n")
    line = next(l for l in (tmp_path / "crontab").read_text().splitlines() if "# orc:bk-webapp" in l)
    command = line.split(None, 5)[5].rsplit(" # orc:", 1)[0].replace("\\%", "%")
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh", "LOGNAME": "root"}
    done = subprocess.run(["/bin/sh", "-c", command], env=bare, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    files = sh(repo, "ls-tree", "-r", "--name-only", "refs/orc/backup/main").split()
    assert "app.py" in files and ".env" not in files


def test_stable_and_branch(tmp_path: Path, env: dict[str, str]) -> None:
    repo = repo_with_spec(tmp_path / "api")
    entry = project_entry(repo, "api", "true", "true")
    failing = project_entry(repo, "api2", "true", "true", test_command="exit 3")
    write_config(tmp_path, {"api": entry, "api2": failing})
    bad = integration("stable", "api2", env=env)
    assert bad.returncode == 1 and "failed (exit 3)" in bad.stderr and "not tagged" in bad.stderr
    good = integration("stable", "api", env=env)
    assert good.returncode == 0, good.stderr
    assert sh(repo, "tag").startswith("stable-main-")
    (repo / "app.py").write_text("dirty\n")
    refused = integration("branch", "api", "login-form", env=env)
    assert refused.returncode == 1 and "commit them first" in refused.stderr
    sh(repo, "commit", "-q", "-am", "work")
    made = integration("branch", "api", "login-form", env=env)
    assert made.returncode == 0, made.stderr
    assert sh(repo, "branch", "--show-current").strip() == "feature/login-form"
    assert integration("branch", "api", "../x", env=env).returncode == 2


def test_learn_appends_a_dated_entry(tmp_path: Path, env: dict[str, str]) -> None:
    book = tmp_path / "LEARNINGS.md"
    book.write_text("# Learnings\n\nseed\n")
    done = integration("learn", "--file", str(book), "--by", "webapp/engineer", "Paste then wait before Enter", env=env)
    assert done.returncode == 0, done.stderr
    text = book.read_text()
    assert text.startswith("# Learnings\n\nseed\n") and "(webapp/engineer): Paste then wait before Enter" in text


def claude_md_commands() -> list[str]:
    """Every line of the ```bash blocks in CLAUDE.md, in order."""
    commands, inside = [], False
    for line in (SUITE / "CLAUDE.md").read_text().splitlines():
        stripped = line.strip()
        if stripped.startswith("```"):
            inside = stripped == "```bash"
            continue
        if inside and stripped:
            commands.append(stripped)
    return commands


def copy_suite(dest: Path) -> Path:
    """The suite as a person copies it onto a machine (dependencies linked, not rebuilt)."""
    import shutil

    dest.mkdir()
    for name in ("orc",):
        shutil.copytree(SUITE / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "e2e"))
    for path in SUITE.iterdir():
        if path.is_file() and path.suffix in (".sh", ".py", ".md", ".txt", ".json"):
            shutil.copy2(path, dest / path.name)
    (dest / ".deps").symlink_to(SUITE / ".deps")
    return dest


def test_every_command_in_claude_md_runs_as_written(tmp_path: Path, orc_env: dict[str, str], tmux: Tmux) -> None:
    suite = copy_suite(tmp_path / "suite")
    repo = repo_with_spec(tmp_path / "webapp")
    (repo / "src").mkdir()
    (repo / "src" / "app.py").write_text("v1\n")
    sh(repo, "add", "src")
    sh(repo, "commit", "-q", "-m", "src")
    pm, _ = fake_agent(tmp_path, "pm")
    dev, _ = fake_agent(tmp_path, "dev")
    entry = project_entry(repo, "webapp", pm, dev, test_command="true")
    (suite / "project_configs.json").write_text(json.dumps({"webapp": entry}))
    spawned, _ = fake_agent(tmp_path, "spawned")
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab"), "ORC_DEFAULT_TARGET": "webapp:PM",
           "SHELL": "/bin/sh", "ORC_AGENT_COMMAND": spawned,
           **{k: v for k, v in GIT_ENV.items() if k.startswith(("GIT_AUTHOR_", "GIT_COMMITTER_"))}}
    env.pop("ORC_PROJECT_CONFIG", None)  # the suite's own project_configs.json, as written

    def run(command: str) -> subprocess.CompletedProcess[str]:
        if command == "git add src/reset.py":  # the engineer's work between the commands
            (repo / "src" / "reset.py").write_text("def reset(): ...\n")
        cwd = repo if command.startswith("git ") else suite
        return subprocess.run(command, shell=True, cwd=cwd, env=env, capture_output=True, text=True, timeout=180)

    first = run("python3 orchestrator_integration.py deploy --all")
    assert first.returncode == 0, first.stdout + first.stderr
    (repo / "src" / "app.py").write_text("work in progress\n")  # for the backup/restore lines
    assert run("python3 orchestrator_integration.py backup webapp").returncode == 0
    sh(repo, "commit", "-q", "-am", "wip")
    commands = claude_md_commands()
    assert len(commands) >= 20
    for command in commands:
        if command.startswith("crontab "):
            continue  # the user's real crontab; this test uses a scratch one
        done = run(command)
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
    assert (repo / "src" / "app.py").read_text() == "work in progress\n"
    assert "npm test needs NODE_ENV=test" in (suite / "LEARNINGS.md").read_text()
    assert not tmux.has_session("webapp")  # the last command of the team section kills it


# --- the real Claude Code (end-to-end tier) -------------------------------------------------


@pytest.mark.e2e
def test_deploy_briefs_real_claude_code_and_status_sees_its_dialog(claude_binary: Path, tmp_path: Path,
                                                                   env: dict[str, str], tmux: Tmux) -> None:
    sys.path.insert(0, str(SUITE / "tests" / "e2e"))
    from claude_harness import FAKE_API_KEY, claude_command, claude_env, prepare_claude_home
    from fake_anthropic_api import FakeAnthropicAPI

    repo = repo_with_spec(tmp_path / "webapp")
    home = tmp_path / "home"
    prepare_claude_home(home, repo, FAKE_API_KEY)
    with FakeAnthropicAPI() as api:
        command = claude_command(claude_binary, claude_env(home, api.base_url, FAKE_API_KEY), repo)
        write_config(tmp_path, {"webapp": project_entry(repo, "webapp", command, command)})
        done = integration("deploy", "webapp", "--ready-timeout", "60", env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        turns = api.wait_for_turns(2, timeout=60)
        assert any("You are the project-manager of the project \"webapp\"" in t for t in turns)
        assert any("You are the engineer of the project \"webapp\"" in t for t in turns)
        assert all("Build a login form" in t for t in turns)

        # A tool call raises Claude's real dialog: status must list that agent first. The file is
        # outside the project, so auto mode asks too (behind the stand-in: its gateway dialog;
        # tests/e2e/SCREENS.md); inside it, auto mode would run the command unasked.
        wait_for(lambda: look(tmux, tmux.resolve("webapp:Dev").pane_id).state == "idle", timeout=60,
                 what="the engineer to finish its first turn")
        never = tmp_path / "never.txt"
        api.script_next_reply_tool_use("Bash", {"command": f"touch {never}", "description": "touch"})
        sent = subprocess.run([str(SUITE / "send_message.sh"), "webapp:Dev", "please run it"], env=env,
                              capture_output=True, text=True, timeout=60)
        assert sent.returncode == 0, sent.stderr
        wait_for(lambda: look(tmux, tmux.resolve("webapp:Dev").pane_id).state == "waiting", timeout=60,
                 what="the dialog")
        status = integration("status", "--json", env=env)
        data = json.loads(status.stdout)
        assert data[0]["agents"][0]["role"] == "engineer" and data[0]["agents"][0]["state"] == "waiting"
        assert not never.exists()


# --- windows that run no agent (docs/workflow.md, "Agents and other windows") -----------------------


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")[:-1]


def mixed_team(tmp_path: Path, repo: Path, pm: str, **extra: object) -> dict[str, object]:
    """Claude Code (the fake agent, marked ``claude``), an interactive shell (no key: its program
    says it), a long-running server marked ``none``, and the dev_server window."""
    entry = project_entry(repo, "webapp", pm, "unused", **extra)
    entry["team"] = [
        {"role": "project-manager", "window": "PM", "command": pm, "agent": "claude"},
        {"role": "console", "window": "Console", "command": "exec bash --norc"},
        {"role": "server", "window": "Server", "agent": "none",
         "command": shlex.join([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1"])},
    ]
    entry["dev_server"] = {"window": "Web", "command": "while true; do sleep 1; done"}
    return entry


@pytest.mark.skipif(not Path("/proc/self/cmdline").exists(), reason="reads the panes' command lines from /proc")
def test_a_team_with_a_shell_and_a_dev_server_deploys_backs_up_restarts_and_stops(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:
    """Issue 23's regression: a window that is not Claude Code gets none of Claude's flags, so
    `exec bash --norc` no longer dies of `--settings` and takes the session down with it."""
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    write_config(tmp_path, {"webapp": mixed_team(tmp_path, repo, pm)})
    done = integration("deploy", "webapp", "--ready-timeout", "20", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "console" in done.stdout and "ok: not an agent" in done.stdout, done.stdout
    windows = {p.window_name: p for p in tmux.list_windows() if p.session == "webapp"}
    assert sorted(windows) == ["Console", "PM", "Server", "Shell", "Web"]
    assert not any(p.dead for p in tmux.list_panes())
    # Claude Code got its hooks; the shell and the server run exactly as written.
    assert json.loads(pm_record.read_text().splitlines()[0])["settings"].endswith("webapp.project-manager.json")
    assert cmdline(tmux.pane_pid(windows["Console"].pane_id)) == ["bash", "--norc"]
    server = cmdline(tmux.pane_pid(windows["Server"].pane_id))
    assert server[1:] == ["-m", "http.server", "0", "--bind", "127.0.0.1"]
    briefs = submitted(pm_record)
    assert len(briefs) == 1 and "project-manager: webapp:PM" in briefs[0]
    assert "webapp:Console" not in briefs[0] and "webapp:Server" not in briefs[0]  # no agent to message there
    # Nothing was typed into the windows that run no agent.
    assert not any("You are the" in line for line in tmux.capture(windows["Console"].pane_id))
    crontab = (tmp_path / "crontab").read_text()
    assert "# orc:bk-webapp" in crontab and crontab.count(" # orc:ck-") == 1

    # status and the attention check: the other windows are running, nobody is told.
    status = json.loads(integration("status", "webapp", "--json", env=env).stdout)[0]
    states = {a["role"]: (a["state"], a["attention"]) for a in status["agents"]}
    assert states["console"] == ("running", None) and states["server"] == ("running", None), states
    assert status["needs_attention"] == []
    assert integration("attention", "check", env=env).returncode == 0
    listed = integration("attention", "list", env=env)
    assert "console" not in listed.stdout and "server" not in listed.stdout, listed.stdout
    text = integration("status", "webapp", env=env).stdout
    assert "0 agent(s) need attention" in text and "not an agent" in text, text

    # A backup, by hand and by its crontab line in cron's bare environment.
    (repo / "app.py").write_text("print('unsaved work')\n")
    backup = integration("backup", "webapp", env=env)
    assert backup.returncode == 0 and "backed up 1 file(s)" in backup.stdout, backup.stdout + backup.stderr
    (repo / "app.py").write_text("print('more work')\n")
    line = next(l for l in crontab.splitlines() if "# orc:bk-webapp" in l)
    command = line.split(None, 5)[5].rsplit(" # orc:", 1)[0].replace("\\%", "%")
    bare = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root"), "SHELL": "/bin/sh", "LOGNAME": "root"}
    ran = subprocess.run(["/bin/sh", "-c", command], env=bare, stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stderr
    assert sh(repo, "show", "refs/orc/backup/main:app.py") == "print('more work')\n"

    # Restart: the agent is briefed again; the shell comes back as written, not briefed.
    console_pid = tmux.pane_pid(windows["Console"].pane_id)
    again = integration("restart", "webapp", "console", env=env)
    assert again.returncode == 0 and "not an agent" in again.stdout, again.stdout + again.stderr
    new_pid = tmux.pane_pid(windows["Console"].pane_id)
    assert new_pid != console_pid and cmdline(new_pid) == ["bash", "--norc"]
    pm_again = integration("restart", "webapp", "project-manager", "--ready-timeout", "20", env=env)
    assert pm_again.returncode == 0, pm_again.stdout + pm_again.stderr
    assert "You were restarted" in submitted(pm_record)[-1]
    redeploy = integration("deploy", "webapp", env=env)
    assert redeploy.returncode == 0 and "all windows already there" in redeploy.stdout, redeploy.stdout

    stopped = integration("stop", "webapp", "--kill", env=env)
    assert stopped.returncode == 0, stopped.stderr
    assert " # orc:" not in (tmp_path / "crontab").read_text() and not tmux.has_session("webapp")


def test_a_program_the_suite_cannot_name_runs_as_written_and_is_briefed_as_an_agent(
        tmp_path: Path, env: dict[str, str], tmux: Tmux) -> None:
    """No "agent" key and a program that is not Claude Code's (here the fake agent, which
    would take --settings): no Claude flags, but still waited for and briefed, as a wrapper
    that starts Claude Code is. A window that never shows an agent says what to set."""
    repo = repo_with_spec(tmp_path / "webapp")
    pm, pm_record = fake_agent(tmp_path, "pm")
    entry = project_entry(repo, "webapp", pm, "unused")
    entry["team"] = [{"role": "project-manager", "window": "PM", "command": pm},
                     {"role": "server", "window": "Server", "command": "sleep 600"}]
    write_config(tmp_path, {"webapp": entry})
    done = integration("deploy", "webapp", "--ready-timeout", "3", env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert len(submitted(pm_record)) == 1
    assert not any(json.loads(line).get("event") == "started" for line in pm_record.read_text().splitlines())
    server = next(p for p in tmux.list_windows() if p.window_name == "Server")
    assert cmdline(tmux.pane_pid(server.pane_id)) == ["sleep", "600"]
    said = next(line for line in done.stdout.splitlines() if line.strip().startswith("server"))
    assert "NOT BRIEFED" in said and '"agent": "none"' in said and '"agent": "claude"' in said, said

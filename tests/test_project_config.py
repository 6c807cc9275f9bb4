"""project_configs.json: every mistake reported with file, key and expectation; nothing started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from orc.core.settings import load_settings
from orc.teams.project_config import (
    ConfigError, check_paths, cron_keeps, cron_schedule, load_config, member_kind, parse_config,
)

SUITE = Path(__file__).resolve().parent.parent


def good_project(path: str = "repo") -> dict[str, object]:
    return {
        "path": path, "spec_file": "SPEC.md", "git_commit_interval": 1800, "check_in_interval": 1800,
        "branch_prefix": "feature/", "test_command": "true",
        "constraints": {"max_files_per_commit": 10, "require_tests": True},
        "team": [{"role": "project-manager", "window": "PM"}, {"role": "engineer", "window": "Dev"}],
    }


def problems_of(data: object, file: Path = Path("/cfg/project_configs.json")) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps(data), file)
    return [str(p) for p in caught.value.problems]


def integration(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SUITE / "orchestrator_integration.py"), *args], env=env,
                          capture_output=True, text=True, timeout=60)


def test_a_good_project_parses_with_defaults_and_relative_paths(tmp_path: Path) -> None:
    data = {"webapp": good_project("../projects/webapp")}
    del data["webapp"]["branch_prefix"]  # type: ignore[attr-defined]
    config = parse_config(json.dumps(data), tmp_path / "conf" / "project_configs.json")
    project = config.projects[0]
    assert project.path == (tmp_path / "conf" / "../projects/webapp").absolute()
    assert project.spec_file == project.path / "SPEC.md"
    assert project.session == "webapp" and project.branch_prefix == "feature/"
    assert project.manager.window == "PM" and project.target(project.manager) == "webapp:PM"
    assert project.shell_window == "Shell" and project.dev_server is None


def test_three_different_mistakes_are_all_reported_with_file_key_and_expectation() -> None:
    project = good_project()
    project["git_commit_interval"] = "30m"                 # wrong type
    project["check_in_intervall"] = 1800                   # misspelt key
    project["team"] = [{"role": "engineer", "window": "Dev"}]  # no project manager
    found = problems_of({"webapp": project})
    assert len(found) == 3, found
    assert any("webapp.git_commit_interval: is a string \"30m\"; expected a whole number of seconds" in p for p in found)
    assert any("webapp.check_in_intervall: is not a known key; expected one of" in p for p in found)
    assert any("webapp.team: has no \"project-manager\" role; expected exactly one member" in p for p in found)
    assert all(p.startswith("/cfg/project_configs.json: ") for p in found)


def test_problems_in_several_projects_and_members_are_collected() -> None:
    bad = good_project()
    bad["team"] = [{"role": "project-manager", "window": "PM"}, {"role": "Engineer!", "window": "a:b"},
                   {"role": "qa", "window": "PM", "briefing": "hi {nme}"}]
    bad["constraints"] = {"max_files_per_commit": 0, "require_tests": "yes"}
    other = good_project()
    other["git_commit_interval"] = 2700  # 45 minutes: cron cannot repeat it evenly
    found = "\n".join(problems_of({"webapp": bad, "api": other}))
    for key in ("webapp.team[1].role", "webapp.team[1].window", "webapp.team[2].briefing: uses the unknown placeholder {nme}",
                "webapp.constraints.max_files_per_commit", "webapp.constraints.require_tests",
                "webapp.team: uses the window name \"PM\" more than once", "api.git_commit_interval: is 2700"):
        assert key in found, key


def test_require_tests_without_a_test_command_is_a_mistake() -> None:
    project = good_project()
    del project["test_command"]
    assert any("webapp.test_command: is missing while constraints.require_tests is true" in p
               for p in problems_of({"webapp": project}))


def test_broken_json_names_line_and_column(tmp_path: Path) -> None:
    file = tmp_path / "project_configs.json"
    file.write_text('{\n  "webapp": {,}\n}\n')
    with pytest.raises(ConfigError) as caught:
        load_config(file)
    assert "is not valid JSON" in str(caught.value) and "line 2" in str(caught.value)


def test_missing_folder_spec_and_git_are_reported_by_check_paths(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    config = parse_config(json.dumps({"gone": good_project("nowhere"), "plain": good_project("plain")}),
                          tmp_path / "project_configs.json")
    found = [str(p) for p in check_paths(config, list(config.projects))]
    assert any("gone.path:" in p and "does not exist" in p for p in found)
    assert any("plain.path:" in p and "not the top of a git work tree" in p for p in found)
    assert any("plain.spec_file:" in p for p in found)


def test_cron_schedules_repeat_evenly() -> None:
    assert cron_keeps(1800) and cron_keeps(7200) and not cron_keeps(2700) and not cron_keeps(5 * 3600)
    assert cron_schedule(1800, "webapp").endswith(" * * * *")
    minutes = cron_schedule(1800, "webapp").split()[0].split(",")
    assert len(minutes) == 2 and int(minutes[1]) - int(minutes[0]) == 30
    assert cron_schedule(60, "x") == "* * * * *"
    assert len(cron_schedule(7200, "x").split()[1].split(",")) == 12


def test_the_shipped_example_is_valid_and_deploy_refuses_missing_folders(orc_env: dict[str, str], tmp_path: Path,
                                                                        tmux: object) -> None:
    config = load_config(SUITE / "project_configs.json")
    assert len(config.projects) >= 2
    mixed = next(p for p in config.projects if p.name == "mobile")  # the mixed team: Claude Code, Codex, Gemini CLI
    assert [member_kind(load_settings(orc_env), m) for m in mixed.team] == ["claude", "codex", "gemini"]
    env = {**orc_env, "HOME": str(tmp_path / "home"), "ORC_CRONTAB_FILE": str(tmp_path / "crontab"),
           "ORC_PROJECT_CONFIG": str(SUITE / "project_configs.json")}
    done = integration("deploy", "--all", env=env)
    assert done.returncode == 2, done.stderr
    assert "webapp.path:" in done.stderr and "does not exist" in done.stderr and "nothing was started" in done.stderr
    assert not (tmp_path / "crontab").exists()
    assert tmux.list_sessions() == []  # type: ignore[attr-defined]


def test_cli_lists_every_mistake_and_exits_2(orc_env: dict[str, str], tmp_path: Path) -> None:
    project = good_project(str(tmp_path))
    project.update({"git_commit_interval": -5, "branch_prefx": "x/", "team": []})
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"webapp": project}))
    done = integration("--config", str(file), "status", env=orc_env)
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.startswith("orchestrator_integration.py: error: ")]
    assert len(lines) == 4, done.stderr  # three problems and the summary
    assert "3 problem(s)" in lines[-1] and done.stdout == ""


def test_key_mistakes_and_folder_mistakes_are_named_in_one_run(orc_env: dict[str, str], tmp_path: Path,
                                                                tmux: object) -> None:
    """A misspelt key, a bad interval and a missing folder: all three at once, exit 2, nothing started."""
    (tmp_path / "repo").mkdir()
    broken = good_project(str(tmp_path / "missing-folder"))
    broken.update({"check_in_intervall": 1800, "git_commit_interval": 45})
    spec_gone = good_project(str(tmp_path / "repo"))  # a folder with no git and no spec
    file = tmp_path / "three.json"
    file.write_text(json.dumps({"webapp": broken, "api": spec_gone}))
    env = {**orc_env, "ORC_CRONTAB_FILE": str(tmp_path / "crontab")}
    for command in (["deploy", "--all"], ["validate"], ["deploy", "webapp"]):
        done = integration("--config", str(file), *command, env=env)
        assert done.returncode == 2, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.startswith("orchestrator_integration.py: error: ")]
        found = "\n".join(lines)
        assert "webapp.check_in_intervall: is not a known key" in found
        assert "webapp.git_commit_interval: is 45" in found
        assert f"webapp.path: {tmp_path / 'missing-folder'} does not exist" in found
        if command[-1] == "webapp":  # only the named project's folders are this command's business
            assert len(lines) == 4 and "api." not in found, found
        else:
            assert "api.path:" in found and "not the top of a git work tree" in found
            assert "api.spec_file:" in found
            assert len(lines) == 6 and "5 problem(s)" in lines[-1], found
        assert "nothing was started" in lines[-1]
    assert not (tmp_path / "crontab").exists()
    assert tmux.list_sessions() == []  # type: ignore[attr-defined]
    assert integration("--config", str(file), "status", env=env).returncode == 2  # keys still checked


# --- which members are Claude Code ("agent"; docs/workflow.md, "Agents and other windows") ----------


@pytest.mark.parametrize("command, kind", [
    ("claude", "claude"),
    ("exec claude --model opus", "claude"),
    ("CLAUDE_CONFIG_DIR=/w/acct2 claude", "claude"),
    ("env -i HOME=/home/x PATH=/usr/bin claude", "claude"),
    ("exec env -u ANTHROPIC_API_KEY claude", "claude"),
    ("npx -y @anthropic-ai/claude-code", "claude"),
    ("npx -p @anthropic-ai/claude-code@2.1.328 claude", "claude"),
    ("npx --offline --prefix /opt/cc claude", "claude"),
    ("/srv/suite/.deps/npm/2.1.328/node_modules/.bin/claude", "claude"),
    ("/srv/suite/.deps/npm/2.1.328/node_modules/@anthropic-ai/claude-code/bin/claude.exe", "claude"),
    ("/home/x/.local/share/claude/versions/2.1.328", "claude"),
    ("node /usr/lib/node_modules/@anthropic-ai/claude-code/cli.js", "claude"),
    ("claude; exec bash", "claude"),           # shell syntax: runs as written, but it is Claude
    ("exec bash --norc", "none"),              # a shell given nothing to run
    ("bash", "none"),
    ("zsh -l", "none"),
    ("bash -lc claude", None),                 # a shell running a command: the command decides, unseen
    ("sh ./start-agent.sh", None),
    ("/home/x/bin/claude-work", None),         # a wrapper script: only "agent": "claude" says what it starts
    ("python3 -m http.server 0", None),
    ("npm run dev", None),
    ("aider --model sonnet", None),
    ("codex", "codex"),                        # Codex CLI and Gemini CLI have profiles of their own
    ("exec gemini --model pro", "gemini"),
    ("npx -y @openai/codex", "codex"),
    ("npx -y some-other-tool", None),
    ("claude-ish", None),
])
def test_the_program_of_a_command_decides_its_kind(command: str, kind: str | None) -> None:
    from orc.record.profiles import command_kind

    assert command_kind(command) == kind


def test_a_pinned_cli_path_is_claude_whatever_its_name() -> None:
    from orc.record.profiles import command_kind

    assert command_kind("/opt/tools/cc-2.1.328 --verbose", pinned=("/opt/tools/cc-2.1.328",)) == "claude"
    assert command_kind("/opt/tools/cc-2.1.328 --verbose") is None


def test_agent_key_per_member_and_per_project(tmp_path: Path) -> None:
    from orc.teams.project_config import member_kind
    from orc.core.settings import load_settings

    project = good_project()
    project["agent"] = "claude"
    project["agent_command"] = "~/bin/claude-work"
    project["team"] = [
        {"role": "project-manager", "window": "PM"},                                 # the project's command
        {"role": "engineer", "window": "Dev", "command": "~/bin/other-wrapper"},     # its own: not the project's
        {"role": "console", "window": "Console", "command": "exec bash --norc"},
        {"role": "server", "window": "Server", "command": "npm run dev", "agent": "none"},
        {"role": "qa", "window": "QA", "command": "~/bin/qa-claude", "agent": "claude"},
    ]
    config = parse_config(json.dumps({"webapp": project}), tmp_path / "project_configs.json")
    settings = load_settings({"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, suite_dir=tmp_path)
    kinds = {m.role: member_kind(settings, m) for m in config.projects[0].team}
    assert kinds == {"project-manager": "claude", "engineer": None, "console": "none", "server": "none",
                     "qa": "claude"}


def test_an_unknown_agent_kind_and_a_project_manager_that_is_no_agent_are_mistakes() -> None:
    project = good_project()
    project["team"] = [{"role": "project-manager", "window": "PM", "agent": "none"},
                       {"role": "engineer", "window": "Dev", "agent": "aider"}]
    found = problems_of({"webapp": project})
    assert len(found) == 2, found
    assert any(p.startswith("/cfg/project_configs.json: webapp.team[1].agent: is a string \"aider\"; "
                            "expected \"claude\"") for p in found), found
    assert any("webapp.team[0].agent: makes the project manager something other than an agent" in p
               for p in found), found
    shell_pm = good_project()
    shell_pm["team"] = [{"role": "project-manager", "window": "PM", "command": "exec bash --norc"}]
    assert problems_of({"webapp": shell_pm}) == [
        "/cfg/project_configs.json: webapp.team[0].command: makes the project manager something other than an "
        "agent (its check-ins and briefing would be typed into a shell or a program); expected an agent for the "
        "project manager: \"agent\": \"claude\", or a command that starts one"]
    wrong_type = good_project()
    wrong_type["agent"] = True
    assert problems_of({"webapp": wrong_type})[0].startswith(
        "/cfg/project_configs.json: webapp.agent: is true/false true; expected \"claude\"")


def test_validate_names_an_unknown_agent_kind_in_one_line_and_exits_2(orc_env: dict[str, str],
                                                                     tmp_path: Path) -> None:
    project = good_project(str(tmp_path))
    project["team"] = [{"role": "project-manager", "window": "PM"},
                       {"role": "engineer", "window": "Dev", "command": "aider", "agent": "aider"}]
    file = tmp_path / "bad.json"
    file.write_text(json.dumps({"webapp": project}))
    done = integration("--config", str(file), "validate", env=orc_env)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.splitlines() if "webapp.team[1].agent" in line]
    assert len(lines) == 1 and "is a string \"aider\"" in lines[0] and "\"none\"" in lines[0], done.stderr

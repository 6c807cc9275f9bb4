#!/usr/bin/env python3
"""orchestrator_integration.py: run the teams described in project_configs.json.

A thin command line over orc.teams.project_config (the file), orc.teams.team (agents in tmux),
orc.teams.project_git (git actions), orc.teams.status (the status screen) and orc.teams.learnings. Also reachable as
``python3 <suite>/orc integration <command>`` (what the crontab lines run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from collections.abc import Callable
from typing import TYPE_CHECKING

import orc  # noqa: F401  (puts the suite's dependency folder on sys.path)
from orc.core.cli import EXIT_OK, EXIT_USAGE, Parser, fail

if TYPE_CHECKING:  # the modules themselves are imported after ensure_runtime() in main()
    from orc.teams.project_config import Member, Project, ProjectsConfig
    from orc.core.settings import Settings
    from tmux_utils import Tmux

PROG = "orchestrator_integration.py"


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=PROG,
        description=(
            "Deploy and watch teams of agents (a project manager and engineers per project) in tmux, "
            "as described in project_configs.json (ORC_PROJECT_CONFIG or --config). The file is checked "
            "on every use: each mistake is listed and nothing is started (exit 2). "
            "Exit 0: done; 1: could not do it (one line on stderr says why); 2: bad usage or config."
        ),
        epilog=(
            "examples:\n"
            "  orchestrator_integration.py deploy --all\n"
            "  orchestrator_integration.py status --watch\n"
            "  orchestrator_integration.py restart webapp engineer"
        ),
    )
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="project config file (default: ORC_PROJECT_CONFIG or <suite>/project_configs.json)")
    parser.add_argument("--debug", action="store_true", help="show a traceback on unexpected errors")
    sub = parser.add_subparsers(dest="command", metavar="<command>", parser_class=Parser)

    def command(name: str, help_text: str, examples: list[str]) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text,
                           epilog="examples:\n" + "\n".join(f"  {PROG} {e}" for e in examples))
        return p

    p = command("validate", "check project_configs.json and the project folders; list every mistake",
                ["validate", "--config ~/teams.json validate"])
    p.add_argument("project", nargs="?", help="check only this project's folders (the whole file is always read)")

    p = command("deploy", "start each project's tmux session and agents, brief them, install check-ins and backups",
                ["deploy --all", "deploy webapp", "deploy --all --resume   # after a reboot"])
    p.add_argument("project", nargs="?", help="the project to deploy")
    p.add_argument("--all", action="store_true", help="deploy every project in the file")
    p.add_argument("--ready-timeout", type=float, default=90.0, metavar="S",
                   help="seconds to wait for each agent to show its input box (default 90)")
    p.add_argument("--resume", action="store_true",
                   help="after a reboot: each agent started continues its own last conversation (claude --resume)")

    p = command("status", "one screen for all projects: agents, git, check-ins, tests, backups",
                ["status", "status webapp --json", "status --watch 5"])
    p.add_argument("project", nargs="?", help="only this project")
    p.add_argument("--json", action="store_true", help="print JSON for scripts")
    p.add_argument("--watch", type=float, nargs="?", const=5.0, metavar="S",
                   help="refresh every S seconds (default 5) until Ctrl-C")

    p = command("backup", "snapshot uncommitted work to refs/orc/backup/<branch> (what cron runs), in the main "
                "checkout and in each engineer's worktree, each to its own branch's ref",
                ["backup webapp", "backup webapp && git -C ~/projects/webapp log -1 refs/orc/backup/main"])
    p.add_argument("project")

    p = command("stable", "run the project's tests; on success tag HEAD stable-<feature>-<date> (with a member "
                "that has a worktree: test and tag there)",
                ["stable webapp", "stable webapp engineer", "stable webapp --timeout 600"])
    p.add_argument("project")
    p.add_argument("member", nargs="?", help="an engineer with a worktree: test and tag its branch")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="test time limit (default 1800)")

    p = command("branch", "create and switch to <branch_prefix><task> from a clean state",
                ["branch webapp login-form", "branch webapp fix-123"])
    p.add_argument("project")
    p.add_argument("task", help="task name: letters, digits, '.', '_' or '-'")

    p = command("restart", "snapshot the work, restart an agent in its window, brief it with where things stand",
                ["restart webapp engineer", "restart webapp engineer --resume",
                 "restart webapp project-manager --ready-timeout 120"])
    p.add_argument("project")
    p.add_argument("role")
    p.add_argument("--ready-timeout", type=float, default=90.0, metavar="S")
    p.add_argument("--resume", action="store_true",
                   help="continue the agent's last conversation (claude --resume <session id>) instead of a fresh "
                        "start with the briefing")

    p = command("stop", "remove a project's crontab lines; with --kill also end its tmux session",
                ["stop webapp", "stop webapp --kill", "stop --all"])
    p.add_argument("project", nargs="?")
    p.add_argument("--all", action="store_true", help="every project in the file")
    p.add_argument("--kill", action="store_true", help="also snapshot the work and kill the session")

    p = command("broadcast", "send a message to every project manager",
                ["broadcast \"Demo at 15:00: get main green\"", "broadcast --project webapp \"Freeze merges\""])
    p.add_argument("--project", action="append", metavar="NAME", help="only these projects (repeatable)")
    p.add_argument("message", nargs="+")

    p = command("hooks", "our hooks for agents started by hand (Claude Code, Codex, Gemini CLI): install, "
                "remove, status",
                ["hooks install --project ~/projects/webapp", "hooks install --user", "hooks remove --user",
                 "hooks install --user --agent codex", "hooks status"])
    p.add_argument("action", choices=("install", "remove", "status"),
                   help="install: merge ours into the settings file; remove: take exactly ours out; "
                        "status: which panes report, and where ours are installed")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--project", type=Path, metavar="PATH",
                       help="the project's own settings, PATH/.claude/settings.local.json")
    where.add_argument("--user", action="store_true",
                       help="your settings for every project: $CLAUDE_CONFIG_DIR/settings.json or ~/.claude/settings.json")
    p.add_argument("--agent", choices=("claude", "codex", "gemini"), default="claude",
                   help="whose settings: claude (default); codex: $CODEX_HOME/hooks.json (~/.codex), "
                        "PATH/.codex/hooks.json; gemini: ~/.gemini/settings.json, PATH/.gemini/settings.json")

    p = command("learn", "append a dated learning to LEARNINGS.md",
                ["learn \"Claude Code swallows an Enter sent within 150 ms of a paste\"",
                 "learn --by webapp/engineer \"npm test needs NODE_ENV=test\""])
    p.add_argument("--by", default="", metavar="WHO", help="who learned it (role or project/role)")
    p.add_argument("--file", type=Path, metavar="FILE", help="knowledge base file (default <suite>/LEARNINGS.md)")
    p.add_argument("text", nargs="+")
    _add_workflow_commands(command)
    return parser


def _add_workflow_commands(command: Callable[[str, str, list[str]], argparse.ArgumentParser]) -> None:
    """finish, spawn, up and attention (docs/workflow.md, docs/attention.md)."""
    p = command("finish", "test the feature branch, tag it stable-<feature>-<date>, merge it --no-ff into the "
                "main branch (on a conflict: abort, back on the feature branch, exit 1, a person is told); "
                "for an engineer with a worktree: test there, merge its branch, remove worktree and branch",
                ["finish webapp", "finish webapp login-form", "finish webapp engineer   # its worktree's branch",
                 "finish webapp engineer --keep", "finish webapp login-form --timeout 600"])
    p.add_argument("project")
    p.add_argument("task", nargs="?", help="the task (branch <branch_prefix><task>), or the role of an engineer "
                   "with a worktree; default: the current branch")
    p.add_argument("--keep", action="store_true",
                   help="for an engineer's worktree: keep the worktree and its branch after the merge")
    p.add_argument("--timeout", type=float, default=1800.0, metavar="S", help="test time limit (default 1800)")

    p = command("spawn", "add one agent to a running team: open the window (or reuse an empty one), start the "
                "agent, wait until it is ready, brief it, and record it so status and restart know it",
                ["spawn webapp:Dev2 --role engineer-2 --project webapp --brief \"Write the password reset form\"",
                 "spawn research:Main --role researcher --brief-file task.md",
                 "spawn webapp:QA --role qa --project webapp --command \"claude --model opus\""])
    p.add_argument("target", metavar="SESSION:WINDOW", help="where the agent goes (a window name, e.g. webapp:Dev2)")
    p.add_argument("--role", required=True, help="its role: lower case letters, digits and '-' (e.g. engineer-2)")
    p.add_argument("--project", metavar="P", help="the project it joins: its folder, its briefing template, "
                                                   "and status/restart know it")
    brief = p.add_mutually_exclusive_group()
    brief.add_argument("--brief", metavar="TEXT", help="its first task, added to the briefing")
    brief.add_argument("--brief-file", type=Path, metavar="F", help="read the first task from this file")
    p.add_argument("--command", dest="agent_command", metavar="C",
                   help="the command that starts the agent (default: the project's, "
                                                   "else ORC_AGENT_COMMAND)")
    p.add_argument("--agent", choices=("claude", "codex", "gemini"),
                   help="which agent CLI the command starts (a wrapper script): claude gets the suite's hooks, "
                        "codex --no-daemon (default: the command's program decides)")
    p.add_argument("--ready-timeout", type=float, default=90.0, metavar="S",
                   help="seconds to wait for the agent to show its input box (default 90)")

    p = command("up", "seat the orchestrator: start its agent at ORC_DEFAULT_TARGET in the suite folder, brief it "
                "with its projects and commands, and give it a recurring self check-in (idempotent); with --boot "
                "(what the @reboot line runs): bring back every deployed team and the orchestrator in their own "
                "conversations, deliver what was missed, and tell a person one summary",
                ["up", "up --ready-timeout 120", "up --command \"claude --model opus\"",
                 "up --boot   # what the crontab's @reboot line runs after a reboot"])
    p.add_argument("--boot", action="store_true",
                   help="after a reboot: wait for tmux (ORC_BOOT_WAIT seconds at most), deploy --resume every team "
                        "whose backup line is in the crontab, seat the orchestrator again if it was, then deliver "
                        "the missed check-ins and kept messages and tell a person what came back and what did not")
    p.add_argument("--command", dest="agent_command", metavar="C",
                   help="the command that starts the orchestrator (default ORC_AGENT_COMMAND)")
    p.add_argument("--agent", choices=("claude",), help="the command starts Claude Code (a wrapper script): "
                   "give it the suite's hooks (default: the command's program decides)")
    p.add_argument("--ready-timeout", type=float, default=90.0, metavar="S",
                   help="seconds to wait for the agent to show its input box (default 90)")

    p = command("attention", "what needs a person: `check` looks once (what cron runs every minute), "
                "`list` shows what is raised and not cleared",
                ["attention check", "attention list", "attention clear webapp/engineer dialog"])
    p.add_argument("action", choices=("check", "list", "clear"))
    p.add_argument("subject", nargs="?", help="clear: what it is about (as `attention list` shows it)")
    p.add_argument("reason", nargs="?", help="clear: the reason (as `attention list` shows it)")


def main(argv: list[str] | None = None) -> int:
    from orc.core.deps import ensure_runtime

    ensure_runtime()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return _run(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug or a broken environment: still one line, still exit 1
        if args.debug:
            raise
        return fail(PROG, f"{type(exc).__name__}: {exc}; rerun with --debug for details")


def _run(args: argparse.Namespace) -> int:
    from orc.teams.project_config import ConfigError, load_config, select
    from orc.core.settings import SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    from orc.scheduling.home import notice_home

    notice_home(settings)  # a copied or moved folder is noticed by any command (docs/copy-and-move.md)
    if args.command == "learn":
        return _learn(args, settings)
    if args.command in ("spawn", "up") and not getattr(args, "project", None):
        return _without_project(args, settings)
    if args.command == "hooks":
        return _hooks(args, settings)

    config_file = (args.config or settings.project_config).expanduser().absolute()
    try:
        config = load_config(config_file, _folders_to_check(args))
    except ConfigError as exc:
        for problem in exc.problems:
            print(f"{PROG}: error: {problem}", file=sys.stderr)
        print(f"{PROG}: error: {len(exc.problems)} problem(s) in {config_file}; fix them and run again "
              f"(nothing was started)", file=sys.stderr)
        return EXIT_USAGE

    name = getattr(args, "project", None)
    if args.command in ("deploy", "stop"):
        if args.all == bool(name):
            return fail(PROG, f"give a project name or --all (projects: {', '.join(config.names())})", EXIT_USAGE)
        if args.all:
            name = None
    try:
        projects = select(config, name) if args.command != "broadcast" else _broadcast_projects(config, args.project)
    except KeyError as exc:
        return fail(PROG, str(exc.args[0]), EXIT_USAGE)

    if args.command == "validate":
        print(f"{config_file}: {len(config.projects)} project(s) OK: {', '.join(config.names())}")
        return EXIT_OK

    from tmux_utils import Tmux

    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    handler = {
        "deploy": _deploy, "status": _status, "backup": _backup, "stable": _stable, "branch": _branch,
        "restart": _restart, "stop": _stop, "broadcast": _broadcast, "finish": _finish, "attention": _attention,
        "spawn": _spawn,
    }[args.command]
    code: int = handler(args, settings, tmux, projects, config_file)
    return code


FOLDER_COMMANDS = ("validate", "deploy", "backup", "stable", "branch", "restart", "finish", "spawn")


def _folders_to_check(args: argparse.Namespace) -> bool | list[str]:
    """Whose folders and spec files are checked with the file's keys, in the same pass: the
    named project's for the commands that work in it, every project's for validate/deploy --all."""
    if args.command not in FOLDER_COMMANDS:
        return False
    name = getattr(args, "project", None)
    return [name] if name else args.command in ("validate", "deploy")


def _broadcast_projects(config: ProjectsConfig, names: list[str] | None) -> list[Project]:
    from orc.teams.project_config import select

    if not names:
        return list(config.projects)
    return [p for n in names for p in select(config, n)]


def _deploy(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.team import deploy_project

    def progress(line: str) -> None:
        print(line, file=sys.stderr)

    failed = 0
    for project in projects:
        report = deploy_project(settings, tmux, project, args.ready_timeout, progress, config_file, resume=args.resume)
        print(f"{project.name}: session {project.session} "
              f"({'opened ' + ', '.join(report.windows_opened) if report.windows_opened else 'all windows already there'})")
        for agent in report.agents:
            state = "briefed" if agent.briefed else ("ok" if agent.ok else "NOT BRIEFED")
            print(f"  {agent.role:<18} {agent.target:<28} {state}: {agent.detail}")
        for line in report.cron:
            print(f"  cron {line}")
        for problem in report.problems:
            print(f"  PROBLEM {problem}")
        if not report.ok:
            failed += 1
    if failed:
        return fail(PROG, f"{failed} project(s) not fully deployed (see above); fix what is named and run deploy again")
    return EXIT_OK


def _status(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.status import collect, render_text, to_json, write_status_files
    from orc.teams.team import with_spawned

    projects = [with_spawned(settings, p) for p in projects]
    while True:
        statuses = collect(settings, tmux, projects)
        write_status_files(settings, statuses)
        if args.json:
            text = json.dumps(to_json(statuses), indent=2) + "\n"
        else:
            text = render_text(statuses)
        if args.watch:
            sys.stdout.write("\x1b[H\x1b[2J" + text)  # clear the screen, then redraw
            sys.stdout.flush()
            time.sleep(args.watch)
            continue
        sys.stdout.write(text)
        return EXIT_OK


def _backup(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.project_git import run_backups
    from orc.teams.team import with_spawned

    project = with_spawned(settings, projects[0])
    failed = []
    results = run_backups(settings, project, why="command")
    for where, result in results:
        ok = result.committed or result.reason.startswith("skipped: nothing")
        label = project.name if len(results) == 1 else f"{project.name} ({where})"
        if ok:
            print(f"{label}: {result.reason}")
        else:
            failed.append(f"{label}: backup {result.reason}")
    for line in failed[:-1]:
        print(f"{PROG}: error: {line}", file=sys.stderr)
    return fail(PROG, failed[-1]) if failed else EXIT_OK


def _stable(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.project_git import run_stable

    member = None
    if args.member is not None:
        member = _worktree_member(settings, projects[0], args.member)
        if member is None:
            return fail(PROG, f"{projects[0].name} has no engineer {args.member!r} with a worktree; "
                              f"{_worktree_roles(settings, projects[0])}", EXIT_USAGE)
    result = run_stable(settings, projects[0], args.timeout, member)
    if result.tag:
        print(f"{projects[0].name}: {result.detail}")
        return EXIT_OK
    return fail(PROG, f"{projects[0].name}: {result.detail}")


def _branch(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.core import gitops
    from orc.teams.project_git import BadTaskName, create_task_branch

    from orc.teams.worktrees import worktree_holding

    project = projects[0]
    try:
        inside = worktree_holding(settings, project, Path.cwd())
    except OSError:  # the folder it runs in is gone (a finished worktree): not inside one
        inside = None
    if inside is not None:
        # `branch` switches the main checkout, the project manager's: an engineer in its worktree
        # would pull the branch out from under it (docs/workflow.md, "Worktrees").
        return fail(PROG, f"you are in {inside.role}'s worktree, whose branch {inside.branch} is already its task "
                          f"branch; commit there (branch works on the main checkout {project.path})")
    try:
        name = create_task_branch(project, args.task)
    except BadTaskName as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    except gitops.GitError as exc:
        return fail(PROG, f"{project.name}: branch {project.branch_prefix + args.task} not created: {exc}")
    print(f"{project.name}: created and switched to {name}")
    return EXIT_OK


def _restart(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.team import restart_agent, with_spawned

    project = with_spawned(settings, projects[0])
    member = project.member(args.role)
    if member is None:
        return fail(PROG, f"{project.name} has no role {args.role!r}; roles: "
                          f"{', '.join(m.role for m in project.team)}", EXIT_USAGE)
    report = restart_agent(settings, tmux, project, member, args.ready_timeout, resume=args.resume)
    if report.briefed:
        how = "resumed its conversation" if report.resumed else "briefed it"
        print(f"{project.name}: restarted {member.role} in {report.target} and {how} ({report.detail})")
        return EXIT_OK
    if report.ok:  # a window that runs no agent: restarted, nothing to brief
        print(f"{project.name}: restarted {member.role} in {report.target} ({report.detail})")
        return EXIT_OK
    return fail(PROG, f"{project.name}: {member.role} in {report.target}: {report.detail}")


def _stop(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.project_config import load_config
    from orc.teams.team import stop_project
    from orc.teams.team_schedules import remove_attention_check_if_unused, remove_boot_line_if_unused

    for project in projects:
        for line in stop_project(settings, tmux, project, args.kill):
            print(f"{project.name}: {line}")
    removed = remove_attention_check_if_unused(settings, list(load_config(config_file).projects))
    removed += remove_boot_line_if_unused(settings)
    if removed:
        print(f"removed {', '.join(removed)} (no project runs any more)")
    return EXIT_OK


def _broadcast(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.team import broadcast

    message = " ".join(args.message)
    if not message.strip():
        return fail(PROG, "the message is empty; say something", EXIT_USAGE)
    failed = []
    for name, result in broadcast(settings, tmux, projects, message):
        if result.submitted:
            print(f"{name}: sent to {result.target}")
        else:
            print(f"{PROG}: error: {name}: not submitted to {result.target}: {result.reason}", file=sys.stderr)
            failed.append(name)
    if failed:
        return fail(PROG, f"not delivered to {', '.join(failed)}; see the reasons above and retry those")
    return EXIT_OK


def _brief_text(args: argparse.Namespace) -> str | None:
    """--brief or the text of --brief-file; ValueError with one line when the file cannot be read."""
    if args.brief_file is None:
        return str(args.brief) if args.brief is not None else None
    try:
        return str(args.brief_file.expanduser().read_text(encoding="utf-8")).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"--brief-file {args.brief_file}: cannot be read ({exc}); give a readable text file") from None


def _spawn(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.spawn import SpawnError, spawn_agent

    try:
        brief = _brief_text(args)
    except ValueError as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    project = projects[0] if args.project else None
    try:
        report = spawn_agent(settings, tmux, args.target, args.role, project=project, brief=brief,
                             command=args.agent_command, ready_timeout=args.ready_timeout, agent=args.agent)
    except SpawnError as exc:
        return fail(PROG, str(exc), EXIT_USAGE if exc.usage else 1)
    how = "opened" if report.opened else "reused the empty window"
    if report.briefed:
        print(f"{args.role}: {how} {report.target} ({report.pane_id}), agent started and briefed ({report.detail})")
        return EXIT_OK
    return fail(PROG, f"{args.role} in {report.target} ({report.pane_id}): {report.detail}")


def _without_project(args: argparse.Namespace, settings: Settings) -> int:
    """spawn without --project, and up: they work with no project file (up lists what it finds)."""
    from orc.teams.project_config import ConfigError, load_config
    from tmux_utils import Tmux

    tmux = Tmux(settings.tmux_socket, settings.tmux_bin)
    config_file = (args.config or settings.project_config).expanduser().absolute()
    if args.command == "spawn":
        return _spawn(args, settings, tmux, [], config_file)
    if args.boot:
        return _boot(args, settings, tmux, config_file)
    try:
        projects = list(load_config(config_file).projects)
    except ConfigError as exc:
        if not (len(exc.problems) == 1 and exc.problems[0].problem == "does not exist"):
            for problem in exc.problems:
                print(f"{PROG}: error: {problem}", file=sys.stderr)
            return fail(PROG, f"{len(exc.problems)} problem(s) in {config_file}; fix them and run up again "
                              f"(nothing was started)", EXIT_USAGE)
        projects = []
    return _up(args, settings, tmux, projects, config_file)


def _up(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.orchestrator import seat_orchestrator
    from orc.teams.spawn import SpawnError

    try:
        report = seat_orchestrator(settings, tmux, projects, config_file, args.ready_timeout, args.agent_command,
                                   args.agent)
    except SpawnError as exc:
        return fail(PROG, str(exc), EXIT_USAGE if exc.usage else 1)
    print(f"orchestrator at {report.target}: {'started' if report.started else 'already running'}; "
          f"{'briefed' if report.briefed else 'not briefed'}: {report.detail}")
    print(f"  cron {report.checkin}")
    from orc.teams.team_schedules import ensure_boot_line_if_deployed

    print(f"  cron {ensure_boot_line_if_deployed(settings, config_file)}")
    if report.briefed or report.detail.startswith("already running and briefed"):
        return EXIT_OK
    return fail(PROG, f"the orchestrator at {report.target} is not briefed: {report.detail}")


def _boot(args: argparse.Namespace, settings: Settings, tmux: Tmux, config_file: Path) -> int:
    from orc.teams.boot import run_boot

    if args.agent_command or args.agent:
        return fail(PROG, "up --boot takes no --command or --agent: it starts the orchestrator as it was seated",
                    EXIT_USAGE)
    report = run_boot(settings, tmux, config_file, args.ready_timeout)
    print(report.summary)
    if report.ok:
        return EXIT_OK
    return fail(PROG, f"{len(report.not_back)} thing(s) did not come back after the reboot (see above and "
                      f"`{PROG} attention list`)")


def _finish(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project], config_file: Path) -> int:
    from orc.teams.project_git import run_finish

    project = projects[0]
    member = _worktree_member(settings, project, args.task) if args.task else None
    if args.keep and member is None:
        return fail(PROG, f"--keep is for an engineer's worktree; {_worktree_roles(settings, project)}", EXIT_USAGE)
    result = run_finish(settings, project, args.task, args.timeout, member, args.keep)
    if result.merged:
        print(f"{project.name}: {result.detail}")
        return EXIT_OK
    if result.conflicts:
        print(f"{PROG}: error: {project.name}: conflicting files:", file=sys.stderr)
        for path in result.conflicts:
            print(f"  {path}", file=sys.stderr)
    return fail(PROG, f"{project.name}: not finished: {result.detail}", EXIT_USAGE if result.usage_error else 1)


def _worktree_member(settings: Settings, project: Project, role: str) -> Member | None:
    """The member ``role`` of ``project`` (spawned ones too) when it works in a worktree."""
    from orc.teams.team import with_spawned
    from orc.teams.worktrees import uses_worktree

    found = with_spawned(settings, project)
    member = found.member(role)
    return member if member is not None and uses_worktree(found, member) else None


def _worktree_roles(settings: Settings, project: Project) -> str:
    from orc.teams.team import with_spawned
    from orc.teams.worktrees import uses_worktree

    found = with_spawned(settings, project)
    roles = [m.role for m in found.team if uses_worktree(found, m)]
    return f"engineers with a worktree: {', '.join(roles)}" if roles else "no member of it has a worktree"


def _attention(args: argparse.Namespace, settings: Settings, tmux: Tmux, projects: list[Project],
               config_file: Path) -> int:
    from orc.teams import attention
    from orc.teams.team import with_spawned

    if args.action == "check":
        if args.subject or args.reason:
            return fail(PROG, "attention check takes no subject or reason", EXIT_USAGE)
        from orc.core.locks import boot_under_way

        if boot_under_way(settings.state_dir):
            return EXIT_OK  # the teams are coming back (up --boot): its one summary tells what did not
        for finding in attention.check(settings, tmux, [with_spawned(settings, p) for p in projects]):
            print(f"raised {finding.subject} {finding.reason}: {finding.text}")
        from orc.teams.attention_events import finish_pending_nudges

        for outcome in finish_pending_nudges(settings):  # nudges whose waiting run died
            print(f"turn-retry: {outcome}")
        return EXIT_OK
    if args.action == "list":
        items = attention.open_items(settings)
        for (subject, reason), item in sorted(items.items()):
            print(f"{subject} {reason}: {item.get('text', '')}")
        if not items:
            print(f"nothing needs a person (log: {attention.log_path(settings)})")
        return EXIT_OK
    if not (args.subject and args.reason):
        return fail(PROG, "attention clear needs a subject and a reason, as `attention list` shows them", EXIT_USAGE)
    if not attention.clear_attention(settings, args.subject, args.reason):
        return fail(PROG, f"{args.subject} {args.reason} is not raised; `attention list` shows what is")
    print(f"cleared {args.subject} {args.reason}")
    return EXIT_OK


def _hooks(args: argparse.Namespace, settings: Settings) -> int:
    from orc.record import hooks_settings
    files = []
    if args.project is not None:
        project = args.project.expanduser().absolute()
        if not project.is_dir():
            return fail(PROG, f"--project {args.project}: no such folder; give the project's folder", EXIT_USAGE)
        files.append(hooks_settings.project_settings_file(project, args.agent))
    if args.user:
        files.append(hooks_settings.user_settings_file(kind=args.agent))
    if args.action == "status":
        from tmux_utils import Tmux, TmuxError

        try:
            live: dict[str, str] | None = {p.pane_id: f"{p.session}:{p.window_name}"
                                           for p in Tmux(settings.tmux_socket, settings.tmux_bin).list_panes()}
        except TmuxError:
            live = None
        for path in files or [hooks_settings.user_settings_file(kind=args.agent)]:
            found = hooks_settings.installed_in(path)
            print(f"{path}: " + {True: "our hooks installed", False: "none of ours",
                                 None: "cannot be read as settings"}[found])
        lines = hooks_settings.status_lines(settings.state_dir, settings.tmux_socket, live, time.time())
        print(f"panes reporting through hooks on {settings.tmux_socket}: {len(lines) or 'none'}")
        for line in lines:
            print(f"  {line}")
        return EXIT_OK
    if not files:
        return fail(PROG, f"hooks {args.action}: say where: --project PATH or --user", EXIT_USAGE)
    try:
        if args.action == "install":
            print(hooks_settings.install(files[0], settings.suite_dir, settings.state_dir, kind=args.agent))
        else:
            print(hooks_settings.remove(files[0]))
    except hooks_settings.HooksFileError as exc:
        return fail(PROG, f"hooks {args.action}: {exc}")
    return EXIT_OK


def _learn(args: argparse.Namespace, settings: Settings) -> int:
    from orc.teams.learnings import BadLearning, append_learning

    path = (args.file or settings.suite_dir / "LEARNINGS.md").expanduser()
    try:
        heading = append_learning(path, " ".join(args.text), settings.state_dir, who=args.by)
    except BadLearning as exc:
        return fail(PROG, str(exc), EXIT_USAGE)
    print(f"added to {path}: {heading}")
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())

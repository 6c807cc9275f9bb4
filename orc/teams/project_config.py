"""project_configs.json: load it, check every key, and hand out typed project records.

Validation collects *every* mistake before anything is started, so a person fixes the
file in one pass: each problem names the file, the key (``webapp.team[1].window``),
what is wrong, and what is expected. Keys are checked against the documented set, so a
misspelt key is an error rather than a silently ignored default.

Paths in the file may be absolute, start with ``~``, or be relative to the folder of
the config file. Whether the folders exist is checked separately
(:func:`check_paths`): ``status`` and ``stop`` must still work for a project whose
folder has gone, while ``deploy`` and the git commands refuse it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orc.record.profiles import AGENT_KINDS, command_kind

if TYPE_CHECKING:
    from orc.core.settings import Settings

# Project names end up in crontab ids, lock names, state folders and session names.
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,39}$")
ROLE = re.compile(r"^[a-z][a-z0-9-]{0,29}$")
# tmux treats ':' and '.' in a target as separators; a window name of digits reads as an index.
WINDOW = re.compile(r"^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_ +-]{0,29}$")
BRANCH_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$")
MANAGER_ROLE = "project-manager"
PLACEHOLDERS = (
    "project", "role", "window", "session", "target", "pm_target", "team", "spec_file", "spec",
    "suite", "check_in_minutes", "commit_minutes", "branch_prefix", "test_command", "path", "duties",
)
PROJECT_KEYS = {
    "path", "session", "spec_file", "git_commit_interval", "check_in_interval", "branch_prefix",
    "test_command", "constraints", "agent_command", "team", "shell_window", "dev_server", "description",
    "main_branch", "agent", "worktree",
}
MEMBER_KEYS = {"role", "window", "command", "briefing", "agent", "worktree"}
WORKTREE_KEYS = {"folder", "base", "branch_prefix", "include"}
DEFAULT_WORKTREE_PREFIX = "orc/"
CONSTRAINT_KEYS = {"max_files_per_commit", "require_tests"}
DEV_SERVER_KEYS = {"window", "command"}
# Cron fires on minute boundaries; intervals must map to a schedule it can keep exactly.
MIN_INTERVAL, MAX_INTERVAL = 60, 86400
MIN_CHECK_IN = 300


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the file: where, what is wrong, what would be right."""

    file: Path
    key: str
    problem: str
    expected: str

    def __str__(self) -> str:
        return f"{self.file}: {self.key}: {self.problem}; expected {self.expected}"


class ConfigError(ValueError):
    """The file has mistakes; ``problems`` lists all of them."""

    def __init__(self, problems: list[ConfigProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Member:
    role: str
    window: str
    command: str
    briefing: str | None
    # What the config says runs in the window: "claude", "none" (no agent), or None (not
    # said: the command's program decides, orc.teams.team.member_kind).
    agent: str | None = None
    # Works in a git worktree of its own (docs/workflow.md, "Worktrees"): the project's
    # "worktree" setting, or the member's own "worktree" key; never the project manager.
    worktree: bool = False

    @property
    def is_manager(self) -> bool:
        return self.role == MANAGER_ROLE


def member_kind(settings: Settings, member: Member) -> str | None:
    """What runs in ``member``'s window: ``claude`` (Claude Code: it takes the suite's flags,
    is waited for, briefed and watched), ``none`` (not an agent: runs as written, never
    briefed, raises no attention), or None (a program the suite cannot name, such as a
    wrapper script: it runs as written, with none of Claude's flags, and is waited for and
    briefed as an agent). The config's ``"agent"`` decides; without it, the command's
    program (docs/workflow.md, "Agents and other windows")."""
    if member.agent is not None:
        return member.agent
    pinned = (settings.claude_bin,) if settings.claude_bin else ()
    return command_kind(member.command or settings.agent_command, pinned)


@dataclass(frozen=True)
class WorktreeSettings:
    """Where a project's engineers get their own worktrees (docs/workflow.md, "Worktrees")."""

    folder: Path                 # each member's worktree is <folder>/<role>
    base: str | None             # the ref new worktrees start from; None: the main checkout's HEAD
    branch_prefix: str           # each member's branch is <branch_prefix><role>
    include: tuple[str, ...]     # files copied from the main checkout into a new worktree (.env)


@dataclass(frozen=True)
class DevServer:
    window: str
    command: str


@dataclass(frozen=True)
class Project:
    name: str
    path: Path
    session: str
    spec_file: Path
    git_commit_interval: int
    check_in_interval: int
    branch_prefix: str
    test_command: tuple[str, ...] | str | None
    max_files_per_commit: int
    require_tests: bool
    team: tuple[Member, ...]
    shell_window: str | None
    dev_server: DevServer | None
    description: str = ""
    main_branch: str | None = None   # None: the repository's main or master (orc.teams.project_git)
    worktrees: WorktreeSettings | None = None   # None: every member works in the main checkout

    @property
    def manager(self) -> Member:
        return next(m for m in self.team if m.is_manager)

    def member(self, role: str) -> Member | None:
        return next((m for m in self.team if m.role == role), None)

    def target(self, member: Member) -> str:
        return f"{self.session}:{member.window}"

    @property
    def test_command_text(self) -> str:
        if self.test_command is None:
            return ""
        return self.test_command if isinstance(self.test_command, str) else shlex.join(self.test_command)


@dataclass(frozen=True)
class ProjectsConfig:
    file: Path
    projects: tuple[Project, ...] = field(default_factory=tuple)

    def get(self, name: str) -> Project | None:
        return next((p for p in self.projects if p.name == name), None)

    def names(self) -> list[str]:
        return [p.name for p in self.projects]


def _type_name(value: object) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", int: "a number",
            float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


class _Checker:
    """Collects problems while reading one file."""

    def __init__(self, file: Path) -> None:
        self.file = file
        self.problems: list[ConfigProblem] = []

    def add(self, key: str, problem: str, expected: str) -> None:
        self.problems.append(ConfigProblem(self.file, key, problem, expected))

    def unknown_keys(self, key: str, obj: dict[str, Any], allowed: set[str]) -> None:
        for name in obj:
            if name not in allowed and not name.startswith("_"):
                self.add(f"{key}.{name}" if key else name, "is not a known key",
                         f"one of {', '.join(sorted(allowed))} (keys starting with '_' are comments)")

    def text(self, key: str, value: object, pattern: re.Pattern[str] | None = None, expected: str = "a non-empty string") -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.add(key, f"is {_type_name(value)} {json.dumps(value)}" if not isinstance(value, str) else "is empty", expected)
            return None
        if pattern is not None and not pattern.match(value):
            self.add(key, f"is {json.dumps(value)}", expected)
            return None
        return value

    def seconds(self, key: str, value: object) -> int | None:
        expected = (f"a whole number of seconds between {MIN_INTERVAL} and {MAX_INTERVAL}, a multiple of 60 "
                    "(cron runs on whole minutes), e.g. 1800")
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(key, f"is {_type_name(value)} {json.dumps(value)}", expected)
            return None
        if not MIN_INTERVAL <= value <= MAX_INTERVAL or value % 60:
            self.add(key, f"is {value}", expected)
            return None
        if not cron_keeps(value):
            self.add(key, f"is {value} ({value // 60} minutes), which cron cannot repeat evenly",
                     "a number of minutes that divides an hour (60, 120, 300, 600, 900, 1200, 1800) "
                     "or of hours that divides a day (3600, 7200, 10800, 14400, 21600, 28800, 43200, 86400)")
            return None
        return value


def cron_keeps(seconds: int) -> bool:
    """Whether cron can fire every ``seconds`` exactly (docs/scheduling.md, "Cron has no one-shot jobs": */45 fires at :00 and :45)."""
    minutes = seconds // 60
    if minutes < 60:
        return 60 % minutes == 0
    return minutes % 60 == 0 and 24 % (minutes // 60) == 0


def cron_schedule(seconds: int, seed: str) -> str:
    """Five cron fields firing every ``seconds``, offset by a stable amount derived from ``seed``
    so that several projects' jobs do not all start in the same minute."""
    minutes = seconds // 60
    if minutes == 1:
        return "* * * * *"
    offset = sum(seed.encode()) % min(minutes, 60)
    if minutes < 60:
        return f"{','.join(str(m) for m in range(offset, 60, minutes))} * * * *"
    hours = minutes // 60
    hour_offset = sum(seed.encode()) % hours
    hour_field = "*" if hours == 1 else ",".join(str(h) for h in range(hour_offset, 24, hours))
    return f"{offset} {hour_field} * * *"


def _resolve_path(raw: str, base: Path) -> Path:
    path = Path(os.path.expanduser(raw))
    return path if path.is_absolute() else (base / path)


def _template_problems(template: str) -> str | None:
    """Why ``template`` cannot be filled, or None."""
    try:
        fields = [name for _, name, spec, conv in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        return f"cannot be read as a template ({exc})"
    for name in fields:
        if name not in PLACEHOLDERS:
            return f"uses the unknown placeholder {{{name}}}"
    return None


def _parse_project(c: _Checker, name: str, raw: object, base: Path, check_folders: bool = False) -> Project | None:
    if not NAME.match(name):
        c.add(name, "is not a usable project name",
              "letters, digits, '-' or '_', starting with a letter or digit, at most 40 characters")
    if not isinstance(raw, dict):
        c.add(name, f"is {_type_name(raw)}", "an object describing the project")
        return None
    before = len(c.problems)
    c.unknown_keys(name, raw, PROJECT_KEYS)

    def k(key: str) -> str:
        return f"{name}.{key}"

    path_text = c.text(k("path"), raw.get("path"), expected="the project's folder (absolute, ~/..., or relative to the config file)")
    path = _resolve_path(path_text, base).absolute() if path_text else Path()
    session = c.text(k("session"), raw.get("session", name), NAME,
                     "a tmux session name: letters, digits, '-' or '_' (default: the project name)") or name
    spec_text = c.text(k("spec_file"), raw.get("spec_file"), expected="the project's spec file, relative to its path or absolute")
    spec = _resolve_path(spec_text, path) if spec_text else Path()
    if check_folders and path_text:
        # In the same pass as the keys, so one run names every mistake, folders included.
        c.problems += _folder_problems(c.file, name, path, spec if spec_text else None)
    commit_interval = c.seconds(k("git_commit_interval"), raw.get("git_commit_interval", 1800)) or 1800
    checkin_interval = c.seconds(k("check_in_interval"), raw.get("check_in_interval", 1800)) or 1800
    if checkin_interval < MIN_CHECK_IN:
        c.add(k("check_in_interval"), f"is {checkin_interval}",
              f"at least {MIN_CHECK_IN} seconds (a recurring check-in more often than 5 minutes is a busy loop)")
    prefix = c.text(k("branch_prefix"), raw.get("branch_prefix", "feature/"), BRANCH_PREFIX,
                    "a git branch prefix such as \"feature/\" (letters, digits, '.', '_', '-', '/')") or "feature/"
    if ".." in prefix or prefix.endswith(".lock") or "//" in prefix:
        c.add(k("branch_prefix"), f"is {json.dumps(prefix)}", "a prefix git accepts in a branch name (no '..', '//' or '.lock')")

    test_raw = raw.get("test_command")
    test_command: tuple[str, ...] | str | None = None
    if isinstance(test_raw, str) and test_raw.strip():
        test_command = test_raw
    elif isinstance(test_raw, list) and test_raw and all(isinstance(a, str) and a for a in test_raw):
        test_command = tuple(test_raw)
    elif test_raw is not None:
        c.add(k("test_command"), f"is {_type_name(test_raw)} {json.dumps(test_raw)}",
              "a shell command string (\"npm test\"), a list of arguments ([\"pytest\", \"-q\"]), or null")

    constraints = raw.get("constraints", {})
    max_files, require_tests = 50, True
    if not isinstance(constraints, dict):
        c.add(k("constraints"), f"is {_type_name(constraints)}", "an object with max_files_per_commit and require_tests")
    else:
        c.unknown_keys(k("constraints"), constraints, CONSTRAINT_KEYS)
        mf = constraints.get("max_files_per_commit", 50)
        if isinstance(mf, bool) or not isinstance(mf, int) or mf < 1:
            c.add(k("constraints.max_files_per_commit"), f"is {_type_name(mf)} {json.dumps(mf)}", "a whole number of files, at least 1")
        else:
            max_files = mf
        rt = constraints.get("require_tests", True)
        if not isinstance(rt, bool):
            c.add(k("constraints.require_tests"), f"is {_type_name(rt)} {json.dumps(rt)}", "true or false")
        else:
            require_tests = rt
        if require_tests is True and isinstance(rt, bool) and test_raw is None:
            c.add(k("test_command"), "is missing while constraints.require_tests is true",
                  "the command that runs the project's tests, or require_tests set to false")

    agent_command = raw.get("agent_command")
    if agent_command is not None:
        agent_command = c.text(k("agent_command"), agent_command, expected="the command that starts an agent, e.g. \"claude\"")

    agent = raw.get("agent")
    if agent is not None and agent not in AGENT_KINDS:
        c.add(k("agent"), f"is {_type_name(agent)} {json.dumps(agent)}", _AGENT_EXPECTED)
        agent = None

    worktree_raw = raw.get("worktree", False)
    worktrees = _parse_worktrees(c, k("worktree"), worktree_raw, base, path if path_text else None)
    team = _parse_team(c, name, raw.get("team"), agent_command, agent, project_worktree=worktree_raw is not False)
    if worktrees is None and any(m.worktree for m in team):
        # A member asked for one in a project that did not: the defaults hold.
        worktrees = _parse_worktrees(c, k("worktree"), True, base, path if path_text else None)
    if worktrees is not None and not any(m.worktree for m in team):
        worktrees = None

    shell_window = raw.get("shell_window", "Shell")
    if shell_window is not None:
        shell_window = c.text(k("shell_window"), shell_window, WINDOW, _WINDOW_EXPECTED + ", or null for none")
    dev_server = None
    dev_raw = raw.get("dev_server")
    if dev_raw is not None:
        if not isinstance(dev_raw, dict):
            c.add(k("dev_server"), f"is {_type_name(dev_raw)}", "an object {\"window\": \"Server\", \"command\": \"npm run dev\"} or null")
        else:
            c.unknown_keys(k("dev_server"), dev_raw, DEV_SERVER_KEYS)
            window = c.text(k("dev_server.window"), dev_raw.get("window", "Server"), WINDOW, _WINDOW_EXPECTED)
            command = c.text(k("dev_server.command"), dev_raw.get("command"), expected="the command that starts the dev server")
            if window and command:
                dev_server = DevServer(window, command)

    windows = [m.window for m in team] + [w for w in (shell_window, dev_server.window if dev_server else None) if w]
    for window in sorted({w for w in windows if windows.count(w) > 1}):
        c.add(k("team"), f"uses the window name {json.dumps(window)} more than once (team, shell_window, dev_server)",
              "a different window name for each agent, the shell and the dev server")

    main_branch = raw.get("main_branch")
    if main_branch is not None:
        main_branch = c.text(k("main_branch"), main_branch, BRANCH_PREFIX,
                             "the branch finished work is merged into, e.g. \"main\" (leave it out for main or master)")
        if main_branch and (".." in main_branch or main_branch.endswith((".lock", "/")) or "//" in main_branch):
            c.add(k("main_branch"), f"is {json.dumps(main_branch)}", "a branch name git accepts")
            main_branch = None

    description = raw.get("description", "")
    if not isinstance(description, str):
        c.add(k("description"), f"is {_type_name(description)}", "a string")
        description = ""
    if len(c.problems) > before:
        return None
    return Project(
        name=name, path=path, session=session, spec_file=spec, git_commit_interval=commit_interval,
        check_in_interval=checkin_interval, branch_prefix=prefix, test_command=test_command,
        max_files_per_commit=max_files, require_tests=require_tests, team=tuple(team),
        shell_window=shell_window, dev_server=dev_server, description=description, main_branch=main_branch,
        worktrees=worktrees,
    )


_AGENT_EXPECTED = ('"claude" (Claude Code: started with the suite\'s hooks, briefed and watched), "codex" or '
                   '"gemini" (Codex CLI, Gemini CLI: briefed and watched; their hooks installed once with '
                   '`hooks install --user --agent codex|gemini`) or "none" (not an agent, e.g. a shell or a dev '
                   'server: runs as written, never briefed)')
_WINDOW_EXPECTED = ("a tmux window name: letters, digits, spaces, '-', '_' or '+', not only digits, "
                    "at most 30 characters (no ':' or '.': tmux reads them as separators)")


_WORKTREE_EXPECTED = ('true, false, or an object with any of "folder" (default <project folder>-worktrees '
                      'beside it), "base" (default the main checkout\'s HEAD), "branch_prefix" (default '
                      f'"{DEFAULT_WORKTREE_PREFIX}") and "include" (files copied in, e.g. [".env"])')
# A ref to start from: no option-like or shell-ish text reaches git (it is one argument, but
# "-x" would still read as an option).
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/@{}^~-]{0,99}$")


def _parse_worktrees(c: _Checker, key: str, raw: object, base: Path, path: Path | None) -> WorktreeSettings | None:
    """The project's ``"worktree"`` key: None when off (false, or left out)."""
    if raw is False:
        return None
    if raw is not True and not isinstance(raw, dict):
        c.add(key, f"is {_type_name(raw)} {json.dumps(raw)}", _WORKTREE_EXPECTED)
        return None
    options: dict[str, Any] = raw if isinstance(raw, dict) else {}
    c.unknown_keys(key, options, WORKTREE_KEYS)
    folder: Path | None = None
    if "folder" in options:
        text = c.text(f"{key}.folder", options["folder"],
                      expected="the folder the worktrees go in (absolute, ~/..., or relative to the config file)")
        folder = _resolve_path(text, base).absolute() if text else None
    elif path is not None:
        folder = path.parent / f"{path.name}-worktrees"
    if folder is not None and ("\t" in str(folder) or "\n" in str(folder)):
        # The suite's record of its worktrees is one tab-separated line each.
        c.add(f"{key}.folder", f"is {json.dumps(str(folder))}", "a folder whose path holds no tab or newline")
        folder = None
    elif folder is not None and path is not None and (folder == path or path in folder.parents):
        c.add(f"{key}.folder", f"is {folder}, inside the project folder {path}",
              "a folder outside the main checkout (its backup and finish would see the worktrees as files)")
    base_ref = options.get("base")
    if base_ref is not None:
        base_ref = c.text(f"{key}.base", base_ref, _REF, "a branch, tag or commit to start from, e.g. \"main\"")
    prefix = c.text(f"{key}.branch_prefix", options.get("branch_prefix", DEFAULT_WORKTREE_PREFIX), BRANCH_PREFIX,
                    "a git branch prefix such as \"orc/\" (letters, digits, '.', '_', '-', '/')")
    if prefix and (".." in prefix or prefix.endswith(".lock") or "//" in prefix):
        c.add(f"{key}.branch_prefix", f"is {json.dumps(prefix)}", "a prefix git accepts in a branch name")
    include_raw = options.get("include", [])
    include: list[str] = []
    if not isinstance(include_raw, list):
        c.add(f"{key}.include", f"is {_type_name(include_raw)}", "a list of files to copy in, e.g. [\".env\"]")
    else:
        for i, entry in enumerate(include_raw):
            ok = (isinstance(entry, str) and entry.strip() and not entry.startswith(("/", "-", "~"))
                  and ".." not in Path(entry).parts and "\n" not in entry and "\t" not in entry)
            if not ok:
                c.add(f"{key}.include[{i}]", f"is {json.dumps(entry)}",
                      "a file path relative to the project folder, inside it (no '..', not absolute)")
            else:
                include.append(str(entry))
    if folder is None:
        return None
    return WorktreeSettings(folder, base_ref, prefix or DEFAULT_WORKTREE_PREFIX, tuple(include))


def _parse_team(c: _Checker, name: str, raw: object, agent_command: str | None,
                project_agent: str | None = None, project_worktree: bool = False) -> list[Member]:
    key = f"{name}.team"
    if not isinstance(raw, list) or not raw:
        c.add(key, "is missing or empty" if raw is None or raw == [] else f"is {_type_name(raw)}",
              f"a list of members such as {{\"role\": \"{MANAGER_ROLE}\", \"window\": \"PM\"}}, "
              f"with exactly one \"{MANAGER_ROLE}\"")
        return []
    members: list[Member] = []
    roles: list[str] = []
    for i, entry in enumerate(raw):
        mkey = f"{key}[{i}]"
        if not isinstance(entry, dict):
            c.add(mkey, f"is {_type_name(entry)}", "an object with role and window")
            continue
        c.unknown_keys(mkey, entry, MEMBER_KEYS)
        role = c.text(f"{mkey}.role", entry.get("role"), ROLE,
                      f"a role name in lower case letters, digits and '-' (\"{MANAGER_ROLE}\", \"engineer\", \"qa\")")
        window = c.text(f"{mkey}.window", entry.get("window"), WINDOW, _WINDOW_EXPECTED)
        command = entry.get("command")
        if command is not None:
            command = c.text(f"{mkey}.command", command, expected="the command that starts this agent, or leave it out")
        briefing = entry.get("briefing")
        if briefing is not None:
            if not isinstance(briefing, str) or not briefing.strip():
                c.add(f"{mkey}.briefing", f"is {_type_name(briefing)}", "a briefing template string, or leave it out for the default")
                briefing = None
            else:
                why = _template_problems(briefing)
                if why:
                    c.add(f"{mkey}.briefing", why,
                          f"placeholders among {{{'}, {'.join(PLACEHOLDERS)}}} (write {{{{ and }}}} for literal braces)")
                    briefing = None
        own_agent = entry.get("agent")
        if own_agent is not None and own_agent not in AGENT_KINDS:
            c.add(f"{mkey}.agent", f"is {_type_name(own_agent)} {json.dumps(own_agent)}", _AGENT_EXPECTED)
            own_agent = None
        # The project's "agent" says what its agent_command starts: it holds for the members
        # that run that command, never for one with a command of its own.
        agent = own_agent if own_agent is not None or command is not None else project_agent
        ran = command or agent_command
        if role == MANAGER_ROLE and (agent or (command_kind(ran) if ran else None)) == "none":
            where = f"{mkey}.agent" if own_agent else (f"{name}.agent" if agent else f"{mkey}.command")
            c.add(where, "makes the project manager something other than an agent (its check-ins and "
                  "briefing would be typed into a shell or a program)",
                  "an agent for the project manager: \"agent\": \"claude\", or a command that starts one")
        if role:
            if role in roles:
                c.add(f"{mkey}.role", f"repeats the role {json.dumps(role)}",
                      "a different role name per member (\"engineer-1\", \"engineer-2\")")
            roles.append(role)
        own_worktree = entry.get("worktree")
        if own_worktree is not None and not isinstance(own_worktree, bool):
            c.add(f"{mkey}.worktree", f"is {_type_name(own_worktree)} {json.dumps(own_worktree)}", "true or false")
            own_worktree = None
        if role == MANAGER_ROLE and own_worktree:
            c.add(f"{mkey}.worktree", "gives the project manager a worktree",
                  "the project manager in the main checkout (leave the key out): it merges the engineers' work there")
        # The project's setting holds for its agents; a window that runs no agent (a shell, a
        # server) stays in the main checkout unless it asks.
        is_agent = (agent or (command_kind(ran) if ran else None)) != "none"
        worktree = bool(own_worktree) if own_worktree is not None else (project_worktree and is_agent)
        if role and window:
            members.append(Member(role, window, command or agent_command or "", briefing, agent,
                                  worktree=worktree and role != MANAGER_ROLE))
    if roles.count(MANAGER_ROLE) == 0:
        c.add(key, f"has no \"{MANAGER_ROLE}\" role",
              f"exactly one member with \"role\": \"{MANAGER_ROLE}\" (check-ins and broadcasts go to it)")
    return members


def parse_config(text: str, file: Path, check_folders: bool | Collection[str] = False) -> ProjectsConfig:
    """Parse and check the text of a config file; raise :class:`ConfigError` listing every problem.

    ``check_folders``: also check the folders and spec files (True: of every project; a
    collection of names: of those projects), in the same pass, so that one run lists the
    folder problems together with the mistakes in the keys.
    """
    c = _Checker(file)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        c.add("(file)", f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
              "a JSON object keyed by project name")
        raise ConfigError(c.problems) from None
    if not isinstance(data, dict):
        c.add("(file)", f"holds {_type_name(data)}", "a JSON object keyed by project name")
        raise ConfigError(c.problems)
    base = file.parent
    projects: list[Project] = []
    names = [n for n in data if not n.startswith("_")]
    if not names:
        c.add("(file)", "defines no project", "at least one project object keyed by its name")
    for name in names:
        folders = check_folders if isinstance(check_folders, bool) else name in check_folders
        project = _parse_project(c, name, data[name], base, folders)
        if project:
            projects.append(project)
    sessions = [p.session for p in projects]
    for session in sorted({s for s in sessions if sessions.count(s) > 1}):
        c.add(f"{session}.session", f"the tmux session {json.dumps(session)} is used by several projects",
              "a different session name per project")
    if c.problems:
        raise ConfigError(c.problems)
    return ProjectsConfig(file, tuple(projects))


def load_config(file: Path, check_folders: bool | Collection[str] = False) -> ProjectsConfig:
    """Read and check ``file``; :class:`ConfigError` for a missing file or any mistake
    (with ``check_folders``, missing folders and spec files too: see :func:`parse_config`)."""
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigProblem(file, "(file)", "does not exist",
                                         "a project_configs.json (copy the example shipped with the suite, "
                                         "or set ORC_PROJECT_CONFIG to yours)")]) from None
    except OSError as exc:
        raise ConfigError([ConfigProblem(file, "(file)", f"cannot be read ({exc.strerror})", "a readable file")]) from None
    return parse_config(text, file, check_folders)


def _folder_problems(file: Path, name: str, path: Path, spec: Path | None) -> list[ConfigProblem]:
    """Problems with one project's folder and spec file (``spec`` None: its key is wrong already)."""
    if not path.is_dir():
        return [ConfigProblem(file, f"{name}.path", f"{path} does not exist or is not a folder",
                              "the folder of an existing git project (create it, or fix the path)")]
    problems = []
    if not (path / ".git").exists():
        problems.append(ConfigProblem(file, f"{name}.path", f"{path} is not the top of a git work tree",
                                      f"a git project folder (run `git init` in {path}, or fix the path)"))
    if spec is not None and not spec.is_file():
        problems.append(ConfigProblem(file, f"{name}.spec_file", f"{spec} does not exist",
                                      "the project's spec file (write it, or fix the path)"))
    return problems


def check_paths(config: ProjectsConfig, projects: list[Project]) -> list[ConfigProblem]:
    """Problems with the folders of ``projects``: missing, not a git work tree, no spec."""
    problems: list[ConfigProblem] = []
    for p in projects:
        problems += _folder_problems(config.file, p.name, p.path, p.spec_file)
    return problems


def select(config: ProjectsConfig, name: str | None) -> list[Project]:
    """The project named ``name`` (all when None); :class:`KeyError` with a helpful text if unknown."""
    if name is None:
        return list(config.projects)
    project = config.get(name)
    if project is None:
        raise KeyError(f"no project {name!r} in {config.file}; known: {', '.join(config.names()) or 'none'}")
    return [project]

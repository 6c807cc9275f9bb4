"""Start the real Claude Code CLI offline, against ``fake_anthropic_api``.

Claude Code 2.1.x shows no first-run screen and makes no outside connection when
``$HOME/.claude.json`` marks onboarding done, approves the API key and trusts the
working folder, and when its base URL points at a loopback server (docs/agent-tui.md, "Running the real Claude Code offline, for tests").
"""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path

#: The version CI runs and tests/e2e/SCREENS.md was recorded with.
PINNED_VERSION = "2.1.328"
#: The version this run tests: ``CLAUDE_CODE_VERSION=x.y.z make e2e`` picks another one
#: (tests/e2e/install_claude.sh installs it beside the others).
CLAUDE_CODE_VERSION = os.environ.get("CLAUDE_CODE_VERSION") or PINNED_VERSION

#: A key in the shape Claude expects; the fake API accepts anything.
FAKE_API_KEY = "sk-ant-api03-fake-e2e-key-0123456789abcdefghijklmnopqrstuvwxyz-AAAAAAAA"


def prepare_claude_home(home: Path, workdir: Path, api_key: str, permission_mode: str | None = None) -> None:
    """Write ``home/.claude.json`` and ``home/.claude/settings.json`` so Claude starts
    straight into its input box in ``workdir``: no onboarding, theme picker, API key
    question, trust dialog, release notes or notices.

    ``permission_mode`` becomes ``permissions.defaultMode``.  2.1.328 otherwise
    starts in "auto" mode, where a classifier request decides tool calls; "default"
    makes every Bash call raise the permission dialog.
    """
    # ORC_E2E_PERMISSION_MODE=auto runs the whole tier in Claude Code's auto mode.
    permission_mode = permission_mode or os.environ.get("ORC_E2E_PERMISSION_MODE") or "default"
    home.mkdir(parents=True, exist_ok=True)
    workdir.mkdir(parents=True, exist_ok=True)
    project = str(workdir.resolve())
    config = {
        "hasCompletedOnboarding": True,
        "lastOnboardingVersion": CLAUDE_CODE_VERSION,
        # Matching the running version suppresses the "what's new" notes.
        "lastReleaseNotesSeen": CLAUDE_CODE_VERSION,
        "theme": "dark",
        "numStartups": 1,
        "customApiKeyResponses": {"approved": [api_key[-20:]], "rejected": []},
        "bypassPermissionsModeAccepted": False,
        # Each of these suppresses a one-time notice or background job seen on a
        # fresh 2.1.328 home (found by diffing .claude.json after a first run).
        "hasSeenAutoDefaultNotice": True,
        # Without this, defaultMode "default" opens "Make auto mode your default
        # permission mode?" before the input box.
        "hasSeenAutoDefaultNudge": True,
        "lastClawdEntranceVersion": CLAUDE_CODE_VERSION,
        "officialMarketplaceAutoInstallAttempted": True,
        "officialMarketplaceAutoInstalled": False,
        "projects": {
            project: {
                "hasTrustDialogAccepted": True,
                "hasCompletedProjectOnboarding": True,
                "projectOnboardingSeenCount": 1,
                "allowedTools": [],
            }
        },
    }
    (home / ".claude.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    settings_dir = home / ".claude"
    settings_dir.mkdir(exist_ok=True)
    settings = {"theme": "dark", "permissions": {"defaultMode": permission_mode}}
    (settings_dir / "settings.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")


#: A token in the shape of a Claude subscription's OAuth token (``subscription=True``).
FAKE_OAUTH_TOKEN = "sk-ant-oat01-fake-e2e-token-0123456789abcdefghijklmnopqrstuvwxyz-AAAA"


def claude_env(home: Path, base_url: str, api_key: str, subscription: bool = False) -> dict[str, str]:
    """Return the environment variables that make Claude use ``base_url`` and ``home`` only.

    ``subscription`` logs in with a (fake) subscription token instead of the API key: only
    then does Claude Code turn the API's usage-limit answer into its "You've hit your
    5-hour limit · resets ..." report (with an API key it shows a bare 429 error).
    """
    auth = {"CLAUDE_CODE_OAUTH_TOKEN": FAKE_OAUTH_TOKEN} if subscription else {"ANTHROPIC_API_KEY": api_key}
    return {
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        **auth,
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "TERM": "xterm-256color",
    }


def claude_command(binary: Path, env: dict[str, str], workdir: Path, *args: str, replace_shell: bool = True,
                   program: list[str] | None = None) -> str:
    """Return a shell command line that runs ``binary`` in ``workdir`` with exactly ``env``.

    ``env -i`` drops the tester's own environment (a real ``ANTHROPIC_API_KEY``, a
    ``CLAUDE_CONFIG_DIR``...) so the run cannot reach anything but the fake API;
    PATH is kept so the Bash tool finds its commands.  With ``replace_shell`` the
    line ``exec``s Claude: given to ``new-session``/``split-window`` the pane then
    closes when Claude exits, and ``#{pane_current_command}`` reads ``claude``
    (tmux names the pane's foreground process group leader, which would otherwise
    be the ``sh -c`` tmux started).  Pass ``replace_shell=False`` to type the line
    into a shell pane and get the shell back after ``/exit``.

    The pane's ``TMUX`` and ``TMUX_PANE`` pass through (expanded by the pane's shell), as
    they would for an agent a person starts: Claude Code records its pane from them.
    ``program`` replaces ``binary`` as the command that starts Claude (``npx ...``).
    """
    base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    assignments = [f"{k}={v}" for k, v in {**base, **env}.items()]
    argv = ["env", "-i", *assignments, *(program or [str(binary)]), *args]
    run = " ".join(shlex.quote(a) for a in argv)
    # The pane's own TMUX and TMUX_PANE pass through, expanded by the pane's shell: a real
    # agent has them, and its hooks and session registry name the pane by them.
    run = run.replace("env -i ", 'env -i "TMUX=${TMUX:-}" "TMUX_PANE=${TMUX_PANE:-}" ', 1)
    return f"cd {shlex.quote(str(workdir))} && {'exec ' if replace_shell else ''}{run}"

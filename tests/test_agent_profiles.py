"""The profiles of Codex CLI and Gemini CLI (orc/record/profiles/): their screens read from the
real captures (tests/e2e/SCREENS.md, "Codex CLI 0.169.0", "Gemini CLI 0.61.0", and the
states found while testing them), their programs told from the command lines their panes
run, their transcripts' prompts, and their hooks installed and removed. The end-to-end
tests with the real CLIs are tests/e2e/test_codex_gemini_driven.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orc.messages.delivery import prompts_of
from orc.record import hooks_settings
from orc.record.agent_state import classify_screen, find_input_box
from orc.record.profiles import CLAUDE, CODEX, GEMINI, agent_program_kind

CODEX_IDLE = """\
  >_ OpenAI Codex (v0.169.0)
     /tmp/run/c-work

› Ask Codex to do anything

  gpt-fake default · /tmp/run/c-work
  ← for agents · ? for shortcuts                                           ⚠ 1 warning · f2 to view"""

CODEX_DRAFT = CODEX_IDLE.replace("› Ask Codex to do anything", "› first line of a draft\n  and its second line")

CODEX_BUSY = """\
› slow one

• Working (2s • esc to interrupt)

› Ask Codex to do anything

  gpt-fake default · /tmp/run/c-work · Fake thread
  ← for agents · ? for shortcuts                                          ⚠ 2 warnings · f2 to view"""

CODEX_DIALOG = """\
› slow one

• OK

  Worked for 5s • 01:05

› tool please

• Running touch approved.txt

  Would you like to run the following command?

  Environment: local

  Reason: The test asks for this command to be approved.

  $ touch approved.txt

› 1. Yes, proceed (y)
  2. Yes, and don't ask again for commands that start with `touch approved.txt` (p)
  3. No, and tell Codex what to do differently (esc)

  Press enter to confirm or esc to cancel"""

CODEX_HOOKS_REVIEW = """\
  Hooks need review
  1 hook is new or changed.
  Hooks can run outside the sandbox after you trust them.

› 1. Review hooks
  2. Trust all and continue
  3. Continue without trusting (hooks won't run)

  enter confirm · esc skip"""

_TOP, _BOTTOM, _RULE = "▄" * 100, "▀" * 100, "─" * 100
GEMINI_IDLE = f"""\
Tips for getting started:
1. Create GEMINI.md files to customize your interactions
                                                                                    ? for shortcuts
{_RULE}
 Shift+Tab to accept edits
{_TOP}
 >   Type your message or @path/to/file
{_BOTTOM}
 workspace (/directory)                                sandbox                               /model
 /tmp/run/g-work                                       no sandbox                              Auto"""

GEMINI_DRAFT = GEMINI_IDLE.replace(" >   Type your message or @path/to/file", " > draft text\n   second line")
GEMINI_BUSY = GEMINI_IDLE.replace("                                                                                    ? for shortcuts",
                                  " ⠇ Thinking... (esc to cancel, 2s)                                  ? for shortcuts")
# Between a tool and the model's next answer: the spinner, and no timer.
GEMINI_AFTER_TOOL = GEMINI_IDLE.replace(
    "                                                                                    ? for shortcuts",
    " ⠸ Executing Hooks: /usr/bin/python3 -I -S /suite/orc hook --state-dir /tmp/state\n? for shortcuts")
# The dialog hides the input box; the prompt above it, echoed in the history, is drawn like it.
GEMINI_DIALOG = f"""\
{_TOP}
 > round 0: run the tool
{_BOTTOM}
╭──────────────────────────────────────────────────────────────────────────────────────────────────╮
│ ? Shell  touch approved.txt                                                                      │
│ Allow execution of [Shell]?                                                                      │
│                                                                                                  │
│ ● 1. Allow once                                                                                  │
│   2. Allow for this session                                                                      │
│   3. No, suggest changes (esc)                                                                   │
╰──────────────────────────────────────────────────────────────────────────────────────────────────╯"""


@pytest.mark.parametrize(("profile", "screen", "state"), [
    (CODEX, CODEX_IDLE, "idle"),
    (CODEX, CODEX_DRAFT, "typing"),
    (CODEX, CODEX_BUSY, "busy"),
    (CODEX, CODEX_DIALOG, "waiting"),
    (CODEX, CODEX_HOOKS_REVIEW, "waiting"),
    (GEMINI, GEMINI_IDLE, "idle"),
    (GEMINI, GEMINI_DRAFT, "typing"),
    (GEMINI, GEMINI_BUSY, "busy"),
    (GEMINI, GEMINI_AFTER_TOOL, "busy"),
    (GEMINI, GEMINI_DIALOG, "waiting"),
], ids=["codex-idle", "codex-draft", "codex-busy", "codex-dialog", "codex-hooks-review", "gemini-idle",
        "gemini-draft", "gemini-busy", "gemini-after-tool", "gemini-dialog"])
def test_each_screen_reads_as_its_state(profile: object, screen: str, state: str) -> None:
    assert classify_screen(screen.splitlines(), profile) == state  # type: ignore[arg-type]


def test_the_text_of_a_draft_is_read_whole() -> None:
    codex = find_input_box(CODEX_DRAFT.splitlines(), CODEX)
    gemini = find_input_box(GEMINI_DRAFT.splitlines(), GEMINI)
    assert codex is not None and codex.text == "first line of a draft\nand its second line"
    assert gemini is not None and gemini.text == "draft text\nsecond line"


def test_claude_codes_profile_does_not_read_the_other_clis_screens_as_idle() -> None:
    # A pane read with the wrong profile is unknown, never idle: nothing would be typed blind.
    for screen in (CODEX_IDLE, GEMINI_IDLE):
        assert classify_screen(screen.splitlines(), CLAUDE) == "unknown"


@pytest.mark.parametrize(("argv", "kind"), [
    (["node", "/x/node_modules/.bin/codex", "--no-daemon"], "codex"),
    (["/x/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/bin/codex", "--no-daemon"], "codex"),
    (["codex"], "codex"),
    (["npx", "-y", "@openai/codex@0.169.0"], "codex"),
    (["node", "/x/node_modules/.bin/gemini"], "gemini"),
    (["/usr/bin/node", "--max-old-space-size=12052", "/x/node_modules/.bin/gemini"], "gemini"),
    (["node", "/x/node_modules/@google/gemini-cli/bundle/gemini.js"], "gemini"),
    (["gemini"], "gemini"),
    (["claude"], "claude"),
    (["node", "/x/node_modules/@anthropic-ai/claude-code/cli.js"], "claude"),
    (["node", "/srv/app/server.js"], None),
    (["npm", "run", "dev"], None),
])
def test_the_running_program_names_the_agent_cli(argv: list[str], kind: str | None) -> None:
    assert agent_program_kind(argv) == kind


def test_each_clis_transcript_line_yields_the_prompt_it_records() -> None:
    text = "line one\nline two \\"
    codex_prompt = {"timestamp": "t", "type": "response_item", "payload": {
        "type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}}
    codex_reply = {"type": "response_item", "payload": {
        "type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "not a prompt"}]}}
    gemini_prompt = {"id": "m1", "timestamp": "t", "type": "user", "content": [{"text": text}]}
    gemini_first = {"$set": {"messages": [{"id": "m0", "type": "user", "content": [{"text": "<session_context>"}]},
                                          {"id": "m1", "type": "user", "content": [{"text": text}]}]}}
    gemini_reply = {"id": "m2", "type": "gemini", "content": "not a prompt"}
    claude_prompt = {"type": "user", "message": {"role": "user", "content": text}}
    assert list(prompts_of(codex_prompt)) == [text]
    assert list(prompts_of(gemini_prompt)) == [text]
    assert list(prompts_of(gemini_first)) == ["<session_context>", text]
    assert list(prompts_of(claude_prompt)) == [text]  # Claude Code's, and no one else's reading of it
    assert list(prompts_of(codex_reply)) == [] and list(prompts_of(gemini_reply)) == []


@pytest.mark.parametrize(("kind", "events"), [
    ("codex", {"SessionStart", "UserPromptSubmit", "PreToolUse", "PostToolUse", "PermissionRequest", "Stop",
               "SessionEnd"}),
    ("gemini", {"SessionStart", "BeforeAgent", "BeforeTool", "AfterTool", "Notification", "AfterAgent",
                "SessionEnd"}),
])
def test_hooks_go_into_each_clis_own_file_beside_the_users_and_come_out_exactly(
        tmp_path: Path, kind: str, events: set[str]) -> None:
    env = {"HOME": str(tmp_path / "home"), "CODEX_HOME": str(tmp_path / "codex-home")}
    path = hooks_settings.user_settings_file(env, kind=kind)
    assert path == (tmp_path / "codex-home" / "hooks.json" if kind == "codex"
                    else tmp_path / "home" / ".gemini" / "settings.json")
    theirs = {"hooks": {"SessionStart": [{"matcher": "*", "hooks": [{"type": "command", "command": "echo mine"}]}]},
              "general": {"enableAutoUpdate": False}}
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(theirs), encoding="utf-8")
    said = hooks_settings.install(path, tmp_path / "suite", tmp_path / "state", python="/usr/bin/python3", kind=kind)
    assert f"hooks installed for {len(events)} events" in said
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data["hooks"]) == events
    assert data["hooks"]["SessionStart"][0] == theirs["hooks"]["SessionStart"][0]  # theirs first, kept
    ours = [g for groups in data["hooks"].values() for g in groups
            if hooks_settings.is_our_command(g["hooks"][0]["command"])]
    assert len(ours) == len(events)
    assert all("timeout" not in g["hooks"][0] for g in ours)  # Claude Code's seconds mean nothing to them
    assert hooks_settings.install(path, tmp_path / "suite", tmp_path / "state", python="/usr/bin/python3",
                                  kind=kind).endswith("(unchanged)")
    hooks_settings.remove(path)
    assert json.loads(path.read_text(encoding="utf-8")) == theirs


@pytest.mark.parametrize("marker", ["CLAUDECODE", "CODEX_THREAD_ID", "GEMINI_CLI"])
def test_a_sender_inside_any_agent_clis_shell_tool_is_an_agent(marker: str) -> None:
    # What each CLI's shell tool sets in the commands it runs (seen in a command's environment
    # in tests/e2e: Codex 0.169.0 also sets CODEX_SESSION_ID, Gemini CLI 0.61.0 GEMINI_CLI=1).
    from orc.messages.mailbox import sender_is_agent

    assert sender_is_agent({"TMUX_PANE": "%4", marker: "1"})
    assert not sender_is_agent({marker: "1"})  # not in a tmux pane: a person's own terminal
    assert not sender_is_agent({"TMUX_PANE": "%4"})


def test_deploy_starts_codex_without_its_background_server_each_with_its_label_and_resume(tmp_path: Path) -> None:
    from orc.core.settings import load_settings
    from orc.teams.project_config import Member
    from orc.teams.team import agent_command

    settings = load_settings({"ORC_STATE_DIR": str(tmp_path / "state"), "HOME": str(tmp_path)})
    codex = Member("engineer-1", "Codex", "codex --model gpt-5", None, "codex")
    assert agent_command(settings, codex, label="webapp.engineer-1") == \
        "exec env ORC_AGENT_LABEL=webapp.engineer-1 codex --model gpt-5 --no-daemon"
    given = Member("engineer-1", "Codex", "exec codex --no-daemon", None, "codex")  # not twice: Codex refuses that
    assert agent_command(settings, given, label="webapp.engineer-1", resume_id="0199-ab") == \
        "exec env ORC_AGENT_LABEL=webapp.engineer-1 codex --no-daemon resume 0199-ab"
    gemini = Member("engineer-2", "Gemini", "gemini", None, "gemini")
    assert agent_command(settings, gemini, label="webapp.engineer-2") == "exec env ORC_AGENT_LABEL=webapp.engineer-2 gemini"
    assert agent_command(settings, gemini, label="webapp.engineer-2", resume_id="5d1c-77") == \
        "exec env ORC_AGENT_LABEL=webapp.engineer-2 gemini --resume 5d1c-77"
    assert agent_command(settings, gemini) == "exec gemini"  # no label: nothing of ours

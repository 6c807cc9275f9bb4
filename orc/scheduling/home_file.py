"""The home record: ``state/home.txt``, where a state folder belongs (suite folder, state
folder, host, user), in a few ``key: value`` lines a person can read.

Kept apart from :mod:`orc.scheduling.home`, which deals with a copy or a move, so that
recording a home when a check-in is scheduled (:mod:`orc.scheduling.checkins`) needs
nothing of that: the two would import each other otherwise.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path

from orc.core.settings import Settings
from orc.core.state import write_private_text

HOME_FILE = "home.txt"


@dataclass(frozen=True)
class Home:
    """Where a state folder belongs."""

    folder: Path   # the suite folder (holds ``orc/``)
    state: Path    # the state folder
    host: str
    user: str

    def render(self) -> str:
        return ("# Tmux Orchestrator: where this state folder belongs (docs/copy-and-move.md).\n"
                "# A copy or a move of the folder is noticed by comparing this with where it runs.\n"
                f"folder: {self.folder}\nstate: {self.state}\nhost: {self.host}\nuser: {self.user}\n")

    def describe(self) -> str:
        return f"{self.folder} (state {self.state}) on {self.host} as {self.user}"


def _user() -> str:
    try:
        import pwd

        return pwd.getpwuid(os.getuid()).pw_name
    except (ImportError, KeyError):
        return str(os.getuid())


def current_home(settings: Settings) -> Home:
    return Home(settings.suite_dir.absolute(), settings.state_dir.absolute(), socket.gethostname(), _user())


def home_file(settings: Settings) -> Path:
    return settings.state_dir / HOME_FILE


def parse_home(text: str) -> Home | None:
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or ": " not in line:
            continue
        key, _, value = line.partition(": ")
        values[key.strip()] = value.strip()
    try:
        return Home(Path(values["folder"]), Path(values["state"]), values["host"], values["user"])
    except KeyError:
        return None


def read_home(settings: Settings) -> Home | None:
    try:
        return parse_home(home_file(settings).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def record_home(settings: Settings) -> None:
    """Write this place as the state folder's home (when it is not already)."""
    here = current_home(settings)
    if read_home(settings) != here:
        write_private_text(home_file(settings), here.render())


def read_home_at(path: Path) -> Home | None:
    try:
        return parse_home(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None

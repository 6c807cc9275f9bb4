#!/usr/bin/env bash
# Schedule a check-in note for an agent, kept in your crontab: schedule_with_note.sh --help
set -euo pipefail
src=${BASH_SOURCE[0]}
while [ -L "$src" ]; do  # follow symlinks (no `readlink -f` on macOS)
  dir=$(cd -P "$(dirname "$src")" && pwd)
  src=$(readlink "$src")
  case $src in /*) ;; *) src=$dir/$src ;; esac
done
here=$(cd -P "$(dirname "$src")" && pwd)
exec "${ORC_PYTHON:-python3}" "$here/orc" schedule "$@"

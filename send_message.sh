#!/usr/bin/env bash
# Send a message to an agent's tmux pane and prove it was submitted: send_message.sh --help
set -euo pipefail
src=${BASH_SOURCE[0]}
while [ -L "$src" ]; do  # follow symlinks (no `readlink -f` on macOS)
  dir=$(cd -P "$(dirname "$src")" && pwd)
  src=$(readlink "$src")
  case $src in /*) ;; *) src=$dir/$src ;; esac
done
here=$(cd -P "$(dirname "$src")" && pwd)
exec "${ORC_PYTHON:-python3}" "$here/orc" send_message "$@"

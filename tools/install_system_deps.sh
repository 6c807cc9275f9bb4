#!/usr/bin/env bash
# Install the system programs the suite needs when they are missing: tmux (always),
# cron and its crontab command (the check-in scheduler), shellcheck (lint, optional),
# faketime (the tests: it shifts the suite's clock, as a laptop that slept sees it).
# Uses apt-get (Debian/Ubuntu) or Homebrew (macOS); as root, or through `sudo -n`.
# Usage: tools/install_system_deps.sh [tmux] [cron] [shellcheck]   (default: tmux cron)
set -euo pipefail

wanted=${*:-tmux cron}
missing=""
for tool in $wanted; do
  case $tool in
    cron) command -v crontab >/dev/null 2>&1 || missing="$missing cron" ;;
    *) command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool" ;;
  esac
done
[ -z "$missing" ] && exit 0

if command -v apt-get >/dev/null 2>&1; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; else
      echo "install_system_deps: error: missing:$missing; install them with: sudo apt-get install$missing" >&2
      exit 1
    fi
  fi
  echo "install_system_deps: installing$missing with apt-get" >&2
  $sudo apt-get update -qq >&2
  # shellcheck disable=SC2086  # word splitting of the package list is intended
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >&2
elif command -v brew >/dev/null 2>&1; then
  # macOS ships cron and crontab; only tmux and shellcheck come from Homebrew.
  # shellcheck disable=SC2086  # one package name per line
  # Homebrew calls faketime's package libfaketime.
  pkgs=$(printf '%s\n' $missing | grep -v '^cron$' | sed 's/^faketime$/libfaketime/' || true)
  if [ -n "$pkgs" ]; then
    echo "install_system_deps: installing $pkgs with brew" >&2
    # shellcheck disable=SC2086
    brew install $pkgs >&2
  fi
else
  echo "install_system_deps: error: missing:$missing and no apt-get or brew found; install them by hand" >&2
  exit 1
fi

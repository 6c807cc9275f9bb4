#!/usr/bin/env bash
# Install the pinned OpenAI Codex CLI and Google Gemini CLI for the end-to-end tests
# (once each) and print the absolute path of each launcher on stdout, one a line:
# Codex first, then Gemini CLI.
#
# Usage: tests/e2e/install_agent_clis.sh
#   CODEX_VERSION=0.169.0 and GEMINI_CLI_VERSION=0.61.0 (the defaults; what
#   docs/agent-clis.md and the screens in tests/e2e/SCREENS.md were recorded with)
#   select the npm versions.
# Installs each CLI and version into its own <suite>/.deps/npm/<cli>-<version>
# (git-ignored), so that several stay installed side by side and one CLI's
# dependencies never change the other's. Skips a CLI whose launcher already reports
# the wanted version.
set -euo pipefail

# Find this script's real folder, following symlinks, without GNU readlink -f
# (macOS bash 3.2 has neither readlink -f nor realpath).
source_path="${BASH_SOURCE[0]}"
while [ -L "$source_path" ]; do
  link_dir="$(cd -P "$(dirname "$source_path")" && pwd)"
  source_path="$(readlink "$source_path")"
  case "$source_path" in
    /*) ;;
    *) source_path="$link_dir/$source_path" ;;
  esac
done
script_dir="$(cd -P "$(dirname "$source_path")" && pwd)"
suite_dir="$(cd -P "$script_dir/../.." && pwd)"

codex_version="${CODEX_VERSION:-0.169.0}"
gemini_version="${GEMINI_CLI_VERSION:-0.61.0}"

fail() {
  echo "install_agent_clis.sh: error: $1" >&2
  exit "${2:-1}"
}

check_version() {
  # $1: the variable's name, $2: its value
  case "$2" in
    *[!0-9.]* | "" | .* | *.) fail "$1=$2 is not a version like 1.2.3" 2 ;;
  esac
}
check_version CODEX_VERSION "$codex_version"
check_version GEMINI_CLI_VERSION "$gemini_version"

# The version a launcher reports: the last word of its first line that looks like
# a version ("codex-cli 0.169.0" for Codex, "0.61.0" for Gemini CLI).
reported_version() {
  "$1" --version 2>/dev/null | head -n 1 | awk '{print $NF}'
}

# install_cli <npm package> <version> <prefix folder name> <launcher name>
# Prints the launcher's path; installs first unless it already reports <version>.
install_cli() {
  package="$1"
  version="$2"
  prefix="$suite_dir/.deps/npm/$3-$version"
  launcher="$prefix/node_modules/.bin/$4"
  if [ -x "$launcher" ] && [ "$(reported_version "$launcher")" = "$version" ]; then
    echo "$launcher"
    return 0
  fi
  command -v npm >/dev/null 2>&1 || fail "npm not found; install Node.js 20 or later (which ships npm) and retry"
  mkdir -p "$prefix"
  # npm's progress and warnings go to stderr, keeping stdout for the paths.
  if ! npm install --no-audit --no-fund --no-save --prefix "$prefix" "$package@$version" >&2; then
    fail "npm could not install $package@$version into $prefix; check npm's output above (network, Node.js version)"
  fi
  [ -x "$launcher" ] || fail "npm finished but $launcher is missing; check npm's output above"
  got="$(reported_version "$launcher")"
  [ "$got" = "$version" ] || fail "$launcher reports version '$got', not $version; remove $prefix and retry"
  echo "$launcher"
}

install_cli "@openai/codex" "$codex_version" codex codex
install_cli "@google/gemini-cli" "$gemini_version" gemini-cli gemini

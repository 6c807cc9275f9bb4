#!/usr/bin/env bash
# Install the pinned Claude Code CLI for the end-to-end tests (once) and print
# the absolute path of its native binary on stdout.
#
# Usage: tests/e2e/install_claude.sh
#   CLAUDE_CODE_VERSION=2.1.328 (default, what CI runs) selects the npm version, e.g.
#   CLAUDE_CODE_VERSION=2.1.197 make e2e; the screens in tests/e2e/SCREENS.md were
#   recorded with 2.1.328.
# Installs each version into its own <suite>/.deps/npm/<version> (git-ignored), so several
# stay installed side by side. npm's postinstall step is not
# needed: the platform package already holds the binary.
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

version="${CLAUDE_CODE_VERSION:-2.1.328}"
case "$version" in
  *[!0-9.]* | "" | .* | *.) echo "install_claude.sh: error: CLAUDE_CODE_VERSION=$version is not a version like 2.1.328" >&2; exit 2 ;;
esac
prefix="$suite_dir/.deps/npm/$version"

case "$(uname -s)" in
  Linux) os="linux" ;;
  Darwin) os="darwin" ;;
  *) echo "install_claude.sh: error: unsupported OS $(uname -s); run the e2e tests on Linux or macOS" >&2; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch="x64" ;;
  arm64 | aarch64) arch="arm64" ;;
  *) echo "install_claude.sh: error: unsupported CPU $(uname -m); run the e2e tests on x64 or arm64" >&2; exit 1 ;;
esac

binary="$prefix/node_modules/@anthropic-ai/claude-code-$os-$arch/claude"

installed_version() {
  "$binary" --version 2>/dev/null | awk '{print $1}'
}

if [ -x "$binary" ] && [ "$(installed_version)" = "$version" ]; then
  echo "$binary"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install_claude.sh: error: npm not found; install Node.js (which ships npm) and retry" >&2
  exit 1
fi

mkdir -p "$prefix"
# npm's progress and the engine warning (the package asks for node>=22 but its
# native binary does not use node) go to stderr, keeping stdout for the path.
npm install --no-audit --no-fund --no-save --prefix "$prefix" "@anthropic-ai/claude-code@$version" >&2

if [ ! -x "$binary" ]; then
  echo "install_claude.sh: error: npm finished but $binary is missing; check npm's output above" >&2
  exit 1
fi
echo "$binary"

#!/usr/bin/env bash
# Makes sure the repository's Python venv exists with exactly the pins of
# python/requirements.txt, (re)creating it when it is missing or the file has
# changed, then prints the path of its python on stdout (progress goes to
# stderr). Several test binaries may call this at once: the work is done under
# an exclusive flock on this directory, and the stamp that marks a finished
# venv is written last, so a half-built venv is never used.
#
# Environment: FERRITE_VENV overrides the venv location (default <repo>/.venv);
# PYTHON picks the interpreter that creates it (default python3).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${FERRITE_VENV:-$(dirname "$here")/.venv}"
req="$here/requirements.txt"
stamp="$venv/.requirements.sha256"

exec 9<"$here"
flock 9

want="$(sha256sum "$req" | cut -d' ' -f1)"
if [[ ! -x "$venv/bin/python" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
  echo "ensure_venv: creating $venv from $req" >&2
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" >&2
  echo "$want" >"$stamp"
fi
echo "$venv/bin/python"

#!/usr/bin/env bash
# The lock: every dependency, hashed, resolved once for every platform (--universal), with uv.
#   scripts/lock.sh write    refresh requirements/*.txt from pyproject.toml, keeping every pin
#                            that still fits (UPGRADE=1 takes the newest that fits instead)
#   scripts/lock.sh check    fail when the committed lock no longer matches pyproject.toml
# run.txt is what the sidecar needs (the image installs it), dev.txt adds the dev extra, bench.txt
# the bench extra, agents.txt the agent frameworks' extras (installed by `make venv` for the
# tests; never by the image); each is constrained by the one before, so a package has one
# version in all.
set -euo pipefail
mode=${1:?usage: scripts/lock.sh write|check}
top=$(cd "$(dirname "$0")/.." && pwd)
uv=${UV:-$top/.venv/bin/uv}

compile() {  # in the folder that holds pyproject.toml and requirements/
  local common=(--universal --python-version 3.11 --generate-hashes --quiet
                --custom-compile-command "make lock")
  [ "${UPGRADE:-}" = 1 ] && common+=(--upgrade)
  "$uv" pip compile pyproject.toml "${common[@]}" -o requirements/run.txt
  "$uv" pip compile pyproject.toml "${common[@]}" --extra dev -c requirements/run.txt \
      -o requirements/dev.txt
  "$uv" pip compile pyproject.toml "${common[@]}" --extra dev --extra bench \
      -c requirements/dev.txt -o requirements/bench.txt
  "$uv" pip compile pyproject.toml "${common[@]}" --extra dev --extra openai-agents \
      --extra langchain --extra mcp -c requirements/dev.txt -o requirements/agents.txt
  # What `make venv` installs first, with pip, to have the lock tool itself.
  grep '^uv==' requirements/dev.txt | sed 's/ .*//' \
    | "$uv" pip compile - "${common[@]}" -c requirements/dev.txt -o requirements/uv.txt
}

case $mode in
  write) cd "$top" && compile ;;
  check)
    scratch=$(mktemp -d); trap 'rm -rf "$scratch"' EXIT
    cp "$top/pyproject.toml" "$scratch/" && cp -r "$top/requirements" "$scratch/"
    (cd "$scratch" && compile)
    if ! diff -ru "$top/requirements" "$scratch/requirements"; then
      echo "the lock no longer matches pyproject.toml: run 'make lock' and commit requirements/"
      exit 1
    fi ;;
  *) echo "usage: scripts/lock.sh write|check" >&2; exit 2 ;;
esac

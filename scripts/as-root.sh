#!/usr/bin/env bash
# Run a command as root: directly when we are root, else through sudo.
set -euo pipefail
if [ "$(id -u)" = 0 ]; then
    exec "$@"
fi
command -v sudo >/dev/null || { echo "mojob: '$*' needs root, and sudo is not installed" >&2; exit 1; }
exec sudo env "PATH=$PATH" "$@"

#!/usr/bin/env bash
# Run a command in a fresh network namespace with only loopback (lo up), when this machine
# allows it (root, or unprivileged user namespaces); otherwise run it as it is. The WebRTC
# browser tests need the namespace: they skip themselves outside one (or fail when
# VIDEOMOTE_REQUIRE_NETNS is set, as in CI), so no media ever reaches another address.
set -euo pipefail
if unshare -n true 2>/dev/null; then
  exec unshare -n sh -c 'ip link set lo up && exec "$@"' sh "$@"
elif unshare -rn true 2>/dev/null; then
  exec unshare -rn sh -c 'ip link set lo up && exec "$@"' sh "$@"
fi
echo "in_netns: no network namespace available here; running without one" >&2
exec "$@"

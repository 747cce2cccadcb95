#!/usr/bin/env bash
# Try the user unit under a real systemd user manager, following docs/operations.md step by
# step, in a throwaway home: readiness, status, reload, graceful stop, and a watchdog restart
# of a deliberately hung render loop. Meant for containers without a running systemd (run as
# root: it needs `unshare -m` to give the manager a private /run/systemd); on a desktop, just
# follow docs/operations.md instead.
#
#   bash contrib/systemd/try-user-unit.sh            # uses ./.venv/bin/drawstreamd
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

if [[ "${1:-}" != --inside ]]; then
    exec unshare -m "$0" --inside
fi

fail() { echo "FAIL: $*" >&2; exit 1; }
prop() { systemctl --user show drawstreamd -P "$1"; }

mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/system # "booted with systemd", for this mount namespace only
work="$(mktemp -d)"
trap 'kill "$manager" 2>/dev/null; wait "$manager" 2>/dev/null; rm -rf "$work"' EXIT
export HOME="$work/home" XDG_RUNTIME_DIR="$work/run"
mkdir -p "$HOME" && mkdir -m 700 "$XDG_RUNTIME_DIR"
/lib/systemd/systemd --user >"$work/manager.log" 2>&1 &
manager=$!
for _ in $(seq 100); do [[ -S $XDG_RUNTIME_DIR/systemd/private ]] && break; sleep 0.1; done

cd "$repo"
set -x
# docs/operations.md, "Install" (the venv variant)
mkdir -p ~/.config/systemd/user
cp contrib/systemd/drawstreamd.service ~/.config/systemd/user/
mkdir -p ~/.config/systemd/user/drawstreamd.service.d
printf '[Service]\nExecStart=\nExecStart=%s/.venv/bin/drawstreamd\n' "$PWD" \
  > ~/.config/systemd/user/drawstreamd.service.d/venv.conf
systemctl --user daemon-reload
mkdir -p ~/.config/drawstreamd
install -m 600 /dev/null ~/.config/drawstreamd/env
echo 'LLM_BACKEND=builtin' >> ~/.config/drawstreamd/env
systemctl --user enable --now drawstreamd
set +x

[[ $(prop ActiveState) == active ]] || fail "not active after enable --now"
[[ $(prop StatusText) == *queued ]] || fail "no status line: $(prop StatusText)"
pid=$(prop MainPID)
systemctl --user status drawstreamd --no-pager || true

echo 'SHOW_DURATION_SEC = 30' >> ~/.config/drawstreamd/config.toml
systemctl --user reload drawstreamd
[[ $(prop MainPID) == "$pid" && $(prop ActiveState) == active ]] || fail "reload restarted it"

systemctl --user stop drawstreamd
[[ $(prop Result) == success && $(prop ExecMainStatus) == 0 ]] || fail "stop was not clean"

# a hung render loop: the watchdog must get it restarted
printf '[Service]\nWatchdogSec=3s\nRestartSec=1s\nEnvironment=DRAWSTREAMD_DEBUG_HANG_RENDER_AFTER_SEC=2\n' \
  > ~/.config/systemd/user/drawstreamd.service.d/hang.conf
systemctl --user daemon-reload
systemctl --user start drawstreamd
sleep 9
[[ $(prop NRestarts) -ge 1 ]] || fail "the watchdog did not restart the hung daemon"
systemctl --user stop drawstreamd
echo "OK: install, enable --now, status, reload, stop and watchdog restart all behave"

#!/usr/bin/env bash
# Proof of fidelity: pysnow 0.7.17, unchanged, against a fresh dev instance.
# Creates a virtualenv (reused between runs), installs pysnow with pip, builds and starts
# the instance on a free port, runs check_pysnow.py, and stops the instance on exit.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="${PEER_VENV:-$target/peer-venv}"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pysnow==0.7.17"

# `cargo xtask ci` passes the binary its test step just built; run alone, this script builds it.
bin="${SNOW_DEVINSTANCE_BIN:-}"
if [ -z "$bin" ]; then
    (cd "$root" && cargo build --quiet -p snow-devinstance --bin snow-devinstance)
    bin="$target/debug/snow-devinstance"
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

"$bin" --port 0 --records 200 --seed 3 --access-token-ttl 2 >"$work/stdout" 2>"$work/stderr" &
server_pid=$!

url=""
for _ in $(seq 1 300); do
    url="$(head -n 1 "$work/stdout" 2>/dev/null || true)"
    [ -n "$url" ] && break
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "snow-devinstance exited early:" >&2
        cat "$work/stderr" >&2
        exit 1
    fi
    sleep 0.1
done
if [ -z "$url" ]; then
    echo "snow-devinstance printed no URL within 30 s" >&2
    exit 1
fi
echo "pysnow peer check against $url"

OAUTHLIB_INSECURE_TRANSPORT=1 "$venv/bin/python" "$here/check_pysnow.py" "$url"

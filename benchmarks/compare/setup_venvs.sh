#!/usr/bin/env bash
# Bench-only virtualenvs for the peer engines, one per engine so neither's dependencies reach the bot's
# requirements (or each other). Idempotent: a venv whose stamp matches its pins is left alone.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENVS="${BENCH_VENVS:-$ROOT/var/bench-venvs}"
PYTHON="${PYTHON:-python3}"

BACKTRADER_PINS=(backtrader==1.9.78.123 pandas==2.2.3)
NAUTILUS_PINS=(nautilus_trader==1.221.0)

make_venv() {
    local name="$1"; shift
    local dir="$VENVS/$name" stamp="$VENVS/$name/.pins"
    if [[ -x "$dir/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$*" ]]; then
        echo "$name: up to date ($*)"
        return
    fi
    echo "$name: installing $*"
    "$PYTHON" -m venv "$dir"
    # This machine's pip config names local indexes that may be absent; their warnings are noise here.
    "$dir/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
        | sed "/is ignored: it is neither a file nor a directory/d"
    echo "$*" > "$stamp"
}

mkdir -p "$VENVS"
case "${1:-all}" in
    backtrader) make_venv backtrader "${BACKTRADER_PINS[@]}" ;;
    nautilus) make_venv nautilus "${NAUTILUS_PINS[@]}" ;;
    all) make_venv backtrader "${BACKTRADER_PINS[@]}"; make_venv nautilus "${NAUTILUS_PINS[@]}" ;;
    *) echo "usage: $0 [all|backtrader|nautilus]" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# deploy/browser.sh — headless Chromium for the console's browser tests (tests/console/):
# Debian's `chromium` package, driven by Playwright for Python through its executable_path.
# No browser is ever downloaded by Playwright (never run `playwright install`).
#
#   deploy/browser.sh            install Debian's chromium when /usr/bin/chromium is missing
#   deploy/browser.sh path       print the browser's path (exit 1 when it is missing)
#
# Idempotent: when the browser is there, it does nothing (no apt-get at all).
# Environment: CHROMIUM (/usr/bin/chromium).
# Progress goes to stderr; only `path` writes to stdout.
set -euo pipefail

CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

log() { echo "browser: $*" >&2; }
die() {
    echo "browser: ERROR: $*" >&2
    exit 1
}
is_root() { [[ $(id -u) -eq 0 ]]; }

install_chromium() {
    local apt=(apt-get) aptlog=${TMPDIR:-/tmp}/coupdemain-apt-chromium.log rc=0
    if ! is_root; then
        command -v sudo >/dev/null 2>&1 || die "chromium is missing and installing it needs root: apt-get install chromium"
        apt=(sudo apt-get)
    fi
    log "installing chromium from Debian's packages (apt-get) ..."
    { "${apt[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq chromium; } \
        >"$aptlog" 2>&1 || rc=$?
    if ((rc != 0)); then
        cat "$aptlog" >&2
        die "apt-get install chromium failed"
    fi
    [[ -x $CHROMIUM ]] || die "chromium installed but $CHROMIUM is missing"
    log "installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
}

case ${1:-install} in
install)
    if [[ -x $CHROMIUM ]]; then
        log "found $CHROMIUM"
    else
        install_chromium
    fi
    ;;
path)
    [[ -x $CHROMIUM ]] || die "$CHROMIUM is missing: run deploy/browser.sh"
    echo "$CHROMIUM"
    ;;
*)
    die "usage: deploy/browser.sh [install|path]"
    ;;
esac

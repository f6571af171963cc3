#!/usr/bin/env bash
# The browser tests (tests/browser) drive a real headless Chromium. Playwright's own
# browser download needs the internet, so they use the system's: Debian's chromium, which
# Playwright drives over the DevTools protocol (no chromedriver needed). Does nothing
# when a chromium is already on PATH or named by $ISEGAN_TEST_CHROMIUM.
set -euo pipefail
if [ -n "${ISEGAN_TEST_CHROMIUM:-}" ] || command -v chromium >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install Chromium with your package manager, or set ISEGAN_TEST_CHROMIUM" >&2
    exit 1
fi
sudo=()
if [ "$(id -u)" != 0 ]; then
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get install -y --no-install-recommends chromium >/dev/null \
    || { "${sudo[@]}" apt-get update >/dev/null \
        && "${sudo[@]}" apt-get install -y --no-install-recommends chromium >/dev/null; }
chromium --version

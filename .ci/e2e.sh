#!/usr/bin/env bash
# Browser end-to-end test (issue 9): starts the server on the demo catalog (or on
# $RULEATLAS_E2E_CATALOG), loads the overview, the T1621 guide, the guide filtered to Splunk and
# one rule page in headless Chromium, and checks what a user would see. Writes a screenshot of
# the guide to docs/guide.png. Exits non-zero on any failure.
#
#   RULEATLAS_BIN=target/debug/ruleatlas bash .ci/e2e.sh
#   RULEATLAS_E2E_CATALOG=/tmp/corpus.db bash .ci/e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."

BIN="${RULEATLAS_BIN:-}"
if [ -z "$BIN" ]; then
    for b in "${CARGO_TARGET_DIR:-target}/release/ruleatlas" "${CARGO_TARGET_DIR:-target}/debug/ruleatlas"; do
        [ -x "$b" ] && { BIN="$b"; break; }
    done
fi
if [ -z "$BIN" ]; then
    cargo build -p ruleatlas
    BIN="${CARGO_TARGET_DIR:-target}/debug/ruleatlas"
fi
[ -x "$BIN" ] || { echo "e2e: no ruleatlas binary at $BIN"; exit 1; }

if [ ! -x /usr/bin/chromium ]; then
    echo "e2e: installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
        kill -TERM "$server" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$server" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "e2e: FAIL: $*"; exit 1; }

# Port 0: a free loopback port; the server prints its URL once it listens.
if [ -n "${RULEATLAS_E2E_CATALOG:-}" ]; then
    "$BIN" serve --catalog "$RULEATLAS_E2E_CATALOG" --addr 127.0.0.1:0 >"$work/server.log" 2>&1 &
else
    "$BIN" demo --addr 127.0.0.1:0 >"$work/server.log" 2>&1 &
fi
server=$!
url=""
for _ in $(seq 1 600); do
    url="$(grep -o 'http://127\.0\.0\.1:[0-9]*' "$work/server.log" | head -1 || true)"
    [ -n "$url" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log"; fail "the server exited"; }
    sleep 0.1
done
[ -n "$url" ] || { cat "$work/server.log"; fail "the server did not start within 60s"; }
echo "e2e: server at $url"

chrome() {
    timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --no-first-run --disable-dev-shm-usage \
        --user-data-dir="$(mktemp -d -p "$work")" "$@" 2>>"$work/chromium.log"
}
dom() {
    local out="$work/$1.html"
    chrome --dump-dom "$url$2" >"$out" || { tail -20 "$work/chromium.log"; fail "chromium could not load $2"; }
    [ -s "$out" ] || fail "empty page for $2"
    echo "e2e: loaded $2 ($(wc -c <"$out") bytes)"
}
has() { grep -qF -- "$2" "$work/$1.html" || fail "$1: expected to see: $2"; }
lacks() { ! grep -qF -- "$2" "$work/$1.html" || fail "$1: expected NOT to see: $2"; }
count() { grep -oF -- "$2" "$work/$1.html" | wc -l || true; }

# The overview: the matrix, the vendors table, the gaps.
dom overview /
has overview "ATT&amp;CK coverage"
has overview "Parse coverage"
has overview "Gaps"
has overview 'href="/techniques/T1621"'

# The guide: every section of the reference page, rules with titles, value rows that expand.
dom guide /techniques/T1621
for h in "Fields filtered most" "Top indicator values" "Exclusions" "Documented false positives" "Rules under this technique"; do
    has guide "$h"
done
has guide "T1621"
has guide "<details><summary><code>"
rules_all="$(grep -o 'id="rule-count">[0-9]*' "$work/guide.html" | grep -o '[0-9]*$' || true)"
[ -n "$rules_all" ] && [ "$rules_all" -gt 0 ] || fail "guide: no rule count"
vendors_all="$(count guide '<section class="vendor-group">')"
[ "$vendors_all" -ge 2 ] || fail "guide: rules of $vendors_all vendor(s) only; the test wants several"
# A rule title as the page shows it: the text of the first link into /rules/.
rule_href="$(grep -o 'href="/rules/[^"]*"' "$work/guide.html" | head -1 | sed 's/^href="//; s/"$//' || true)"
[ -n "$rule_href" ] || fail "guide: no rule link"
rule_title="$(grep -o "<a href=\"$rule_href\">[^<]*</a>" "$work/guide.html" | head -1 | sed 's/<[^>]*>//g' || true)"
[ -n "$rule_title" ] || fail "guide: no rule title"
echo "e2e: guide shows $rules_all rules of $vendors_all vendors; first: $rule_title"

# The filter narrows the rules list to one vendor.
dom splunk "/techniques/T1621?vendor=splunk"
rules_splunk="$(grep -o 'id="rule-count">[0-9]*' "$work/splunk.html" | grep -o '[0-9]*$' || true)"
[ -n "$rules_splunk" ] && [ "$rules_splunk" -gt 0 ] || fail "splunk: no Splunk rules for T1621"
[ "$rules_splunk" -lt "$rules_all" ] || fail "splunk: the filter did not narrow ($rules_splunk of $rules_all)"
[ "$(count splunk '<section class="vendor-group">')" -eq 1 ] || fail "splunk: rules of other vendors shown"
has splunk "<h3>Splunk"
has splunk '<option value="splunk" selected'
lacks splunk "<h3>Sigma"
echo "e2e: ?vendor=splunk shows $rules_splunk of $rules_all rules"

# One rule page: its title, the highlighted query, the predicates table.
dom rule "$rule_href"
has rule "<h1>$rule_title</h1>"
has rule '<pre class="query"><code>'
has rule "Predicates ("
has rule 'href="/techniques/T1621"'

# A screenshot of the guide for the README.
mkdir -p docs
chrome --hide-scrollbars --window-size=1280,1600 --screenshot="$PWD/docs/guide.png" "$url/techniques/T1621" >/dev/null \
    || fail "screenshot failed"
[ -s docs/guide.png ] || fail "no screenshot written"
echo "e2e: screenshot docs/guide.png ($(wc -c <docs/guide.png) bytes)"
echo "e2e: ok"

#!/usr/bin/env bash
# The whole test suite: installs the system tools the tests use when they are missing (a missing
# tool is a failure, never a skip), type-checks, lints, builds the bundle, runs vitest, and ends
# with one plain "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v genisoimage >/dev/null || need+=(genisoimage)
command -v xorriso >/dev/null || need+=(xorriso)
command -v bsdtar >/dev/null || need+=(libarchive-tools)
command -v dash >/dev/null || need+=(dash)
command -v mke2fs >/dev/null && command -v e2fsck >/dev/null && command -v debugfs >/dev/null || need+=(e2fsprogs)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
if [ ${#need[@]} -gt 0 ]; then
  echo "test: installing ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then echo "test: need root to install ${need[*]}" >&2; exit 1; fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

[ -d node_modules ] || npm ci --no-audit --no-fund
echo "test: typecheck"; npx tsc --noEmit
echo "test: lint"; npx eslint .
echo "test: build"; node scripts/build.mjs

report=$(mktemp)
trap 'rm -f "$report"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$report" || echo "0 passed, 1 failed"
exit $status

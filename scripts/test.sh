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
command -v openssl >/dev/null || need+=(openssl)
[ -x /usr/bin/python3 ] || need+=(python3)
command -v strace >/dev/null || need+=(strace)
command -v useradd >/dev/null && command -v chpasswd >/dev/null || need+=(passwd)
# visudo checks the sudoers drop-in the users module writes
command -v visudo >/dev/null || need+=(sudo)
# the real-guest suite (test/e2e): QEMU/TCG, debootstrap, losetup (util-linux)
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v qemu-img >/dev/null || need+=(qemu-utils)
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v losetup >/dev/null || need+=(util-linux)
command -v rpmbuild >/dev/null && command -v rpm >/dev/null || need+=(rpm)
command -v dpkg-deb >/dev/null || need+=(dpkg)
# the package test: lintian on the .deb, groff on the man page
command -v lintian >/dev/null || need+=(lintian)
command -v groff >/dev/null || need+=(groff)
# vfat seeds (mkfs.vfat + mcopy), whole disks (grub-mkimage's i386-pc and x86_64-efi modules,
# sgdisk, sfdisk) and their boots (OVMF)
command -v mkfs.vfat >/dev/null || need+=(dosfstools)
command -v mcopy >/dev/null || need+=(mtools)
[ -d /usr/lib/grub/i386-pc ] && command -v grub-mkimage >/dev/null || need+=(grub-pc-bin)
[ -d /usr/lib/grub/x86_64-efi ] || need+=(grub-efi-amd64-bin)
[ -f /usr/share/OVMF/OVMF_CODE_4M.fd ] || need+=(ovmf)
command -v sgdisk >/dev/null || need+=(gdisk)
command -v sfdisk >/dev/null || need+=(fdisk)
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

unit=$(mktemp)
e2e=$(mktemp)
trap 'rm -f "$unit" "$e2e"' EXIT
status=0
echo "test: unit and integration tests"
npx vitest run --reporter=default --reporter=json --outputFile.json="$unit" || status=$?
echo "test: real-guest suite (QEMU/TCG)"
npx vitest run --config vitest.e2e.config.ts --reporter=default --reporter=json --outputFile.json="$e2e" || status=$?
node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of process.argv.slice(1)) {
    let r;
    try { r = JSON.parse(fs.readFileSync(f, "utf8")); } catch { failed++; continue; }
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$unit" "$e2e"
exit $status

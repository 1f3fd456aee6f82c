#!/usr/bin/env bash
# The Holdfast demo: what the store does, step by step, in plain words.
# Uses a fresh data directory (DEMO_DIR, default ./demo-data) and the binary
# built by `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-./bin/holdfast}
DEMO_DIR=${DEMO_DIR:-./demo-data}
rm -rf "$DEMO_DIR"
export HOLDFAST_DATA="$DEMO_DIR/data"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1. Create a data directory and the log signing identity"
$HF init
KEY=$($HF log-key)

step "2. Add a tenant: its own repository, nothing shared with other tenants"
$HF tenant add contoso

step "3. Write 3,000 synthetic email-like items (about 10 KB each) with their records"
echo "   (the Microsoft 365 backup arrives with the ingest issue; these stand in for captured mail)"
$HF --tenant contoso generate --items 3000 --size 10000 --seed 1

step "4. Verify: re-hash every pack and blob, recompute the Merkle tree, check every signed checkpoint"
$HF --tenant contoso verify

step "5. Prove to an auditor that record 1234 was captured, offline, with only the public key"
$HF --tenant contoso proof --record 1234 --out "$DEMO_DIR/record-1234.proof.json"
echo "   The bundle holds the record itself, its inclusion proof and the signed checkpoint:"
head -c 400 "$DEMO_DIR/record-1234.proof.json"; echo " ..."
$HF verify-proof "$DEMO_DIR/record-1234.proof.json" --key "$KEY"

step "6. More work, a new checkpoint, and proof that the log only grew in between"
OLD=$($HF --tenant contoso --json log --type checkpoint.issued | sed -n 's/.*"size":\([0-9]*\).*/\1/p' | tail -1)
$HF --tenant contoso generate --items 500 --size 10000 --seed 2
NEW=$($HF --tenant contoso --json log --type checkpoint.issued | sed -n 's/.*"size":\([0-9]*\).*/\1/p' | tail -1)
$HF --tenant contoso proof --consistency "$OLD" "$NEW" --out "$DEMO_DIR/consistency.proof.json"
$HF verify-proof "$DEMO_DIR/consistency.proof.json" --key "$KEY"

step "7. Tampering is caught: flip one byte of a pack in a copy of the repository"
cp -a "$DEMO_DIR/data" "$DEMO_DIR/tampered"
PACK=$(find "$DEMO_DIR/tampered/tenants/contoso/packs" -type f | head -1)
chmod u+w "$PACK"
printf '\xff' | dd of="$PACK" bs=1 seek=4096 conv=notrunc status=none
set +e
HOLDFAST_DATA="$DEMO_DIR/tampered" $HF --tenant contoso verify
code=$?
set -e
if [ "$code" -eq 3 ]; then
  echo "   verify exited 3 (integrity failure) and named the damaged pack, as it must."
else
  echo "   UNEXPECTED: verify exited $code on a damaged repository" >&2
  exit 1
fi

step "8. The log: every action is a record (the last few)"
$HF --tenant contoso log --last 6

step "Done"
echo "The demo data is in $DEMO_DIR. The log's public key, for auditors:"
echo "  $KEY"

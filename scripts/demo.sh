#!/usr/bin/env bash
# The Holdfast demo on the embedded fake tenant: what each step does, in
# plain words. Uses a fresh folder (DEMO_DIR, default ./demo-data) and the
# binary built by `make build`.
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-./bin/holdfast}
DEMO_DIR=${DEMO_DIR:-./demo-data}
rm -rf "$DEMO_DIR"
mkdir -p "$DEMO_DIR"
export HOLDFAST_DATA="$DEMO_DIR/data"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
json() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }

step "1. Start the fake Microsoft 365 tenant (Graph + identity platform over HTTPS, its own CA)"
$HF fake-tenant serve --state "$DEMO_DIR/fake-tenant" > "$DEMO_DIR/fake-tenant.json" &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
for _ in $(seq 50); do [ -s "$DEMO_DIR/fake-tenant.json" ] && break; sleep 0.1; done
INFO=$(cat "$DEMO_DIR/fake-tenant.json")
GRAPH=$(echo "$INFO" | json graph_endpoint)
echo "   A 15-person accountancy at $GRAPH, three of them departed employees."
echo "$INFO" | json client_secret > "$DEMO_DIR/client-secret"
chmod 600 "$DEMO_DIR/client-secret"

step "2. Create the data directory and the log signing identity"
$HF init
KEY=$($HF log-key)

# HOLDFAST_DEMO_S3=1: the tenant's repository goes to a bucket with Object
# Lock in a local versitygw (make bin/versitygw builds it).
REPO_ARGS=()
if [ "${HOLDFAST_DEMO_S3:-}" = 1 ]; then
  step "2b. Object storage: a local S3 gateway (versitygw) and a bucket with Object Lock"
  mkdir -p "$DEMO_DIR/s3/root" "$DEMO_DIR/s3/versions"
  S3_DIR=$(cd "$DEMO_DIR/s3" && pwd) # versitygw changes its directory: absolute paths
  export AWS_ACCESS_KEY_ID=holdfast-demo AWS_SECRET_ACCESS_KEY=holdfast-demo-secret AWS_REGION=us-east-1
  S3_PORT=${S3_PORT:-17171}
  ./bin/versitygw --access "$AWS_ACCESS_KEY_ID" --secret "$AWS_SECRET_ACCESS_KEY" --port 127.0.0.1:$S3_PORT \
    posix --versioning-dir "$S3_DIR/versions" "$S3_DIR/root" > "$S3_DIR/gateway.log" 2>&1 &
  S3_PID=$!
  trap 'kill $FAKE_PID $S3_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$S3_PORT" && break; sleep 0.1; done
  # Creating the bucket is the MSP's, with its cloud's tools; here curl signs the request.
  curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
    -H "x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" \
    -H "x-amz-bucket-object-lock-enabled: true" -X PUT "http://127.0.0.1:$S3_PORT/holdfast-demo"
  echo "   Bucket holdfast-demo with Object Lock at http://127.0.0.1:$S3_PORT; every object the tenant writes is locked (governance, 1 day)."
  REPO_ARGS=(--repository s3://holdfast-demo/tenants/contoso --s3-endpoint "http://127.0.0.1:$S3_PORT" --s3-path-style --lock-mode governance --lock-days 1)
fi

step "3. Add the tenant: its own repository, connected through an app registration"
$HF tenant add contoso --tenant-id "$(echo "$INFO" | json tenant_id)" --client-id "$(echo "$INFO" | json client_id)" \
  --client-secret-file "$DEMO_DIR/client-secret" \
  --graph-endpoint "$GRAPH" --login-endpoint "$(echo "$INFO" | json login_endpoint)" --ca-file "$(echo "$INFO" | json ca_file)" "${REPO_ARGS[@]}"
$HF tenant test contoso

step "3b. An independent witness (an auditor would run it): it cosigns each checkpoint only if the log never went back"
$HF witness keygen --name witness.auditor.example/w1 --key "$DEMO_DIR/witness.key" > "$DEMO_DIR/witness.vkey"
WKEY=$(cat "$DEMO_DIR/witness.vkey")
$HF witness allow --data "$DEMO_DIR/witness" "$($HF --tenant contoso checkpoint | head -1)" "$KEY"
$HF witness serve --listen 127.0.0.1:0 --key "$DEMO_DIR/witness.key" --data "$DEMO_DIR/witness" > "$DEMO_DIR/witness.out" 2> "$DEMO_DIR/witness.log" &
WITNESS_PID=$!
trap 'kill $FAKE_PID $WITNESS_PID ${S3_PID:-} 2>/dev/null || true' EXIT
for _ in $(seq 50); do grep -q "serving add-checkpoint on" "$DEMO_DIR/witness.out" 2>/dev/null && break; sleep 0.1; done
WURL=http://$(sed -n 's/.* on \([^;]*\);.*/\1/p' "$DEMO_DIR/witness.out")
$HF --tenant contoso witness add "$WURL" "$WKEY"
echo "   From now on every checkpoint the tenant's log issues goes to the witness, which keeps its own record of the log."

step "4. Full backup — mail, calendars, contacts, OneDrive, SharePoint, Teams — through msgraph-sdk-go and azidentity, as against real Microsoft 365"
$HF --tenant contoso backup

step "5. A day of activity: in every account new mail and files, edits, deletions"
$HF fake-tenant mutate --state "$DEMO_DIR/fake-tenant" --scenario activity
$HF --tenant contoso backup
echo "   Only the changes were fetched (delta queries); deletions are tombstones, their content kept."

ALICE=$(echo "$INFO" | sed -n 's/.*"users":\["\([^"]*\)".*/\1/p')
FOLDER="/Clients/Harbour Bakery Ltd"
RUN_BEFORE=$($HF --tenant contoso --json log --type run.finished | sed -n 's/.*"run":"\([^"]*\)".*/\1/p' | tail -1)
$HF --tenant contoso restore --account "$ALICE" --workload onedrive --path "$FOLDER" --to-dir "$DEMO_DIR/client-folder-before" > /dev/null
echo "   (Kept a copy of $ALICE's $FOLDER as backed up, to compare with later.)"

step "6. The disaster: $ALICE overwrites the whole client folder in OneDrive"
$HF fake-tenant mutate --state "$DEMO_DIR/fake-tenant" --scenario overwrite-folder
$HF --tenant contoso backup
echo "   Every overwritten file is a new version; the versions from before the disaster stay in the store."

step "7. Restore the client folder as it was at the end of run $RUN_BEFORE, before the disaster"
$HF --tenant contoso restore --account "$ALICE" --workload onedrive --path "$FOLDER" --run "$RUN_BEFORE" --to-dir "$DEMO_DIR/client-folder-restored"
if diff -r "$DEMO_DIR/client-folder-before" "$DEMO_DIR/client-folder-restored" > /dev/null; then
  echo "   Every restored file is byte for byte the file as it was before the disaster."
else
  echo "   UNEXPECTED: the restored folder differs from the folder before the disaster" >&2
  exit 1
fi
$HF --tenant contoso restore --account "$ALICE" --workload onedrive --path "$FOLDER" --to-dir "$DEMO_DIR/client-folder-now" > /dev/null
if ! diff -rq "$DEMO_DIR/client-folder-before" "$DEMO_DIR/client-folder-now" > /dev/null; then
  echo "   (The folder as it is now holds the overwritten files: $(find "$DEMO_DIR/client-folder-now" -name '*.pdf' -o -name '*.csv' -o -name '*.txt' | head -1 | xargs -d '\n' head -c 60))"
fi

step "7b. And into the tenant: the same folder, back in $ALICE's OneDrive under a new restore folder"
$HF --tenant contoso restore --account "$ALICE" --workload onedrive --path "$FOLDER" --run "$RUN_BEFORE" --to-tenant
$HF --tenant contoso backup --workloads onedrive > /dev/null
RESTORED=$($HF --tenant contoso --json log --type item.version --last 40 | sed -n 's/.*"path":"\(\/Holdfast restore [^"]*\)".*/\1/p' | grep "$FOLDER" | tail -1)
$HF --tenant contoso restore --account "$ALICE" --workload onedrive --path "$RESTORED" --to-dir "$DEMO_DIR/client-folder-from-tenant" > /dev/null
if diff -r <(cd "$DEMO_DIR/client-folder-before" && find . -type f ! -name MANIFEST.json -exec sha256sum {} + | sed 's|/Holdfast restore [^/]*||' | sort -k2 | awk '{print $1}') \
           <(cd "$DEMO_DIR/client-folder-from-tenant" && find . -type f ! -name MANIFEST.json -exec sha256sum {} + | sort -k2 | awk '{print $1}') > /dev/null; then
  echo "   Backed up again from the tenant, the restored files in $RESTORED are byte for byte the originals."
else
  echo "   UNEXPECTED: the files restored into the tenant differ from the originals" >&2
  exit 1
fi
$HF --tenant contoso restore-test --sample 25

step "8. An employee leaves and their account is deleted \"to save a licence\""
$HF fake-tenant mutate --state "$DEMO_DIR/fake-tenant" --scenario delete-user --user "$(echo "$INFO" | sed -n 's/.*"users":\["[^"]*","[^"]*","\([^"]*\)".*/\1/p')"
$HF --tenant contoso backup
$HF --tenant contoso status

step "8b. Legal: a claim arrives. Search everything captured (deleted items too), hold the custodian, export for counsel"
$HF --tenant contoso search 'kind:email "bank reconciliation" hasattachment:true' --limit 3
$HF --tenant contoso hold create --case "Harbour v Contoso" --custodian "$ALICE" --query 'reconciliation OR invoice*' \
  --reason "Letter before action received 2026-11-20"
$HF --tenant contoso hold show --case "Harbour v Contoso"
$HF --tenant contoso export --case "Harbour v Contoso" --query 'kind:email OR kind:docs' --out "$DEMO_DIR/harbour-export.zip"
$HF verify-export "$DEMO_DIR/harbour-export.zip" --key "$KEY" --witness "$WKEY"
echo "   Counsel gets natives, a load file and, for every item, a proof that it is in the signed log."

step "8c. Policies: which accounts and workloads are not protected, in sentences a technician can act on"
$HF --tenant contoso policy set --profile sox --retention-days 3650 > /dev/null
$HF --tenant contoso policy eval || true
echo "   (The deleted employee's data is flagged: they left without a recent backup. holdfast policy eval --fail-on high exits 4 for monitoring.)"

step "8d. Evidence for the auditor: a signed procedures report, checked by poppler's pdfsig and offline"
$HF --tenant contoso report --kind procedures --out "$DEMO_DIR/procedures-report.pdf"
if command -v pdfsig >/dev/null; then pdfsig "$DEMO_DIR/procedures-report.pdf" | grep -E "Signature Validation|Total document signed"; fi
$HF report verify "$DEMO_DIR/procedures-report.pdf" --key "$KEY" --witness "$WKEY"

step "9. Verify: re-hash every pack and blob, recompute the Merkle tree, check every signed checkpoint and the witness's cosignatures"
$HF --tenant contoso verify --witness "$WKEY"

step "10. Prove to an auditor that a captured message is in the signed log, offline, with only the public key"
REC=$($HF --tenant contoso --json log --type item.version --limit 1 | sed -n 's/.*"index":\([0-9]*\).*/\1/p' | head -1)
$HF --tenant contoso proof --record "$REC" --out "$DEMO_DIR/record-$REC.proof.json"
$HF verify-proof "$DEMO_DIR/record-$REC.proof.json" --key "$KEY" --witness "$WKEY"
SIZES=$($HF --tenant contoso --json log --type checkpoint.issued | sed -n 's/.*"size":\([0-9]*\).*/\1/p')
OLD=$(echo "$SIZES" | head -1); NEW=$(echo "$SIZES" | tail -1)
$HF --tenant contoso proof --consistency "$OLD" "$NEW" --out "$DEMO_DIR/consistency.proof.json"
$HF verify-proof "$DEMO_DIR/consistency.proof.json" --key "$KEY"

if [ "${HOLDFAST_DEMO_S3:-}" = 1 ]; then
  step "11. (Tampering and rollback with copies of the repository on disk: skipped — the repository is in the bucket, its objects locked)"
else
step "11. Tampering is caught: flip one byte of a pack in a copy of the repository"
cp -a "$DEMO_DIR/data" "$DEMO_DIR/tampered"
# The copy is a what-if: it stops submitting to the real witness (to which
# its own checkpoints would be a second history of the tenant's log).
HOLDFAST_DATA="$DEMO_DIR/tampered" $HF --tenant contoso witness remove witness.auditor.example/w1 > /dev/null
PACK=$(find "$DEMO_DIR/tampered/tenants/contoso/packs" -type f | head -1)
chmod u+w "$PACK"
printf '\xff' | dd of="$PACK" bs=1 seek=2048 conv=notrunc status=none
set +e
HOLDFAST_DATA="$DEMO_DIR/tampered" $HF --tenant contoso verify > "$DEMO_DIR/tampered-verify.txt" 2>&1
code=$?
set -e
grep -v '^FAILED record' "$DEMO_DIR/tampered-verify.txt" | head -6
echo "   ... ($(grep -c '^FAILED' "$DEMO_DIR/tampered-verify.txt") failures in all: the damaged blobs and every record that refers to them)"
if [ "$code" -eq 3 ]; then
  echo "   verify exited 3 (integrity failure) and named the damaged pack, as it must."
else
  echo "   UNEXPECTED: verify exited $code on a damaged repository" >&2
  exit 1
fi

step "11b. A rollback is caught: remove the newest log batches and checkpoints in a copy"
$HF --tenant contoso checkpoint --out "$DEMO_DIR/auditor.checkpoint" > /dev/null
echo "   (The auditor keeps the latest signed checkpoint: $DEMO_DIR/auditor.checkpoint.)"
cp -a "$DEMO_DIR/data" "$DEMO_DIR/rolledback"
RB="$DEMO_DIR/rolledback/tenants/contoso"
# A batch is named by its first record: the log left ends where the first
# batch removed began.
LEFT=$(ls "$RB/log" | sort | tail -2 | head -1 | cut -c1-20)
ls "$RB/log" | sort | tail -2 | while read -r b; do rm -f "$RB/log/$b"; done
for c in "$RB"/checkpoints/*; do [ "$((10#$(basename "$c")))" -gt "$((10#$LEFT))" ] && rm -f "$c"; done
# verify_rolledback OUT SAY [ARGS…]: verify the rolled-back copy, which must
# exit 3 (integrity failure); show its first failures and say what it means.
verify_rolledback() {
  local out=$1 say=$2 code
  shift 2
  set +e
  HOLDFAST_DATA="$DEMO_DIR/rolledback" $HF --tenant contoso verify "$@" > "$out" 2>&1
  code=$?
  set -e
  grep '^FAILED' "$out" | head -2
  if [ "$code" -ne 3 ]; then
    echo "   UNEXPECTED: verify $* exited $code on a rolled-back log" >&2
    exit 1
  fi
  echo "   $say"
}
verify_rolledback "$DEMO_DIR/rolledback-verify.txt" \
  "verify exited 3: this machine remembers the longer log, and the store refuses to sign over the shorter one."
rm -rf "$DEMO_DIR/rolledback/keys/seen" "$RB/state"
verify_rolledback "$DEMO_DIR/rolledback-verify2.txt" \
  "Even with every local trace removed, the checkpoint the auditor kept shows the records are missing (exit 3)." \
  --checkpoint "$DEMO_DIR/auditor.checkpoint"

step "11c. A rollback that goes on writing is refused by the witness: an old copy of the whole data directory, keys included, put back"
cp -a "$DEMO_DIR/data" "$DEMO_DIR/forked"
$HF --tenant contoso verify > /dev/null
echo "   (The real log went on: a verify run, its checkpoint cosigned by the witness.)"
HOLDFAST_DATA="$DEMO_DIR/forked" $HF --tenant contoso verify 2>&1 | grep -i "refused" | head -1
set +e
HOLDFAST_DATA="$DEMO_DIR/forked" $HF --tenant contoso verify --witness "$WKEY" > "$DEMO_DIR/forked-verify.txt" 2>&1
code=$?
set -e
grep '^FAILED witness' "$DEMO_DIR/forked-verify.txt" | head -1
if [ "$code" -ne 3 ]; then
  echo "   UNEXPECTED: verify exited $code on a log the witness refused" >&2
  exit 1
fi
echo "   verify exited 3: whoever holds the machine cannot make the witness cosign a second history."
fi

step "12. The log: every action is a record (the last few)"
$HF --tenant contoso log --last 5

if [ "${HOLDFAST_DEMO_S3:-}" != 1 ]; then
UNCOSIGNED=0
for c in "$HOLDFAST_DATA"/tenants/contoso/checkpoints/*; do
  ls "$HOLDFAST_DATA/tenants/contoso/cosignatures/$(basename "$c")-"* > /dev/null 2>&1 || { UNCOSIGNED=$((UNCOSIGNED + 1)); echo "   not cosigned: checkpoint $((10#$(basename "$c")))"; }
done
echo "   $(ls "$HOLDFAST_DATA"/tenants/contoso/checkpoints | wc -l) checkpoints issued, $UNCOSIGNED of them not cosigned by the witness."
fi

step "Done"
echo "Everything is in $DEMO_DIR. The log's public key, for auditors:"
echo "  $KEY"
echo "and the witness's key:"
echo "  $WKEY"
echo "Next: make console — the service on this data: schedules, the JSON API, a one-time admin (Ctrl-C stops it)."

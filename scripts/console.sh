#!/usr/bin/env bash
# holdfast serve on the demo's data (make demo first): the fake tenant
# again at the address the demo connected to, a schedule, a one-time admin
# password and token, and the service until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
HF=${HF:-./bin/holdfast}
DEMO_DIR=${DEMO_DIR:-./demo-data}
export HOLDFAST_DATA="$DEMO_DIR/data"
LISTEN=${LISTEN:-127.0.0.1:8443}
if [ ! -s "$DEMO_DIR/fake-tenant.json" ]; then
  echo "No demo data in $DEMO_DIR: run make demo first." >&2
  exit 1
fi
json() { sed -n "s/.*\"$1\": *\"\\([^\"]*\\)\".*/\\1/p"; }
GRAPH=$(json graph_endpoint < "$DEMO_DIR/fake-tenant.json")
ADDR=${GRAPH#https://}
ADDR=${ADDR%%/*}
$HF fake-tenant serve --state "$DEMO_DIR/fake-tenant" --addr "$ADDR" > /dev/null &
FAKE_PID=$!
trap 'kill $FAKE_PID 2>/dev/null || true' EXIT
sleep 0.5
$HF --tenant contoso schedule set --backup "@every 1h" --backup-jitter 1m > /dev/null
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
ADMIN="admin-$(date +%s)"
HOLDFAST_PASSWORD=$PASSWORD $HF user add "$ADMIN" --role admin > /dev/null
$HF user totp "$ADMIN" > "$DEMO_DIR/console-totp.url" 2>/dev/null
TOKEN=$($HF token create --user "$ADMIN" --name console --expires 1d --json | json token)
# A technician and a legal user beside the admin (no second factor needed
# but for admins), to see the console as each role sees it.
STAMP=$(date +%s)
for role in technician legal auditor; do
  HOLDFAST_PASSWORD=$PASSWORD $HF user add "$role-$STAMP" --role $role --tenant contoso > /dev/null
done
echo "Holdfast on https://$LISTEN (certificate: $HOLDFAST_DATA/keys/serve-cert.pem)"
echo "  the console: https://$LISTEN/console (the browser asks to accept the self-signed certificate)"
echo "  sign in as technician-$STAMP, legal-$STAMP or auditor-$STAMP with password $PASSWORD"
echo "  or as $ADMIN with that password and a code from the TOTP in $DEMO_DIR/console-totp.url"
echo "  or: curl --cacert $HOLDFAST_DATA/keys/serve-cert.pem -H 'Authorization: Bearer $TOKEN' https://$LISTEN/api/v1/tenants/contoso/status"
echo "  (a one-time admin for this demo; Ctrl-C stops the service)"
$HF serve --listen "$LISTEN"

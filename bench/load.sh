#!/usr/bin/env bash
# Load run: the gateway's GraphQL and OData v4 endpoints against the same CAP backend called
# directly, in one run.
#
# The read: 20 sales orders with one nested navigation (their items), as user alice. The direct
# run sends exactly the OData request the gateway plans (taken from `bizgraph plan`), so every
# side asks the backend for the same work; the OData run asks the gateway's
# `/odata/v4/sap.s4/...` for the same data. Prints requests/s, p50/p99 of each, the gateway's
# added latency, and CPU time per request of the gateway and of the backend (from /proc).
#
# Needs: oha (`cargo install oha`), `npm ci --prefix tests/backends`, a release build
# (`cargo build --release -p bizgraph-gateway`). Usage: bench/load.sh [seconds] [connections]
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${1:-20}
CONNECTIONS=${2:-16}
BIN=target/release/bizgraph
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT

node tests/backends/server.js s4 --port 0 >"$WORK/cap.out" 2>"$WORK/cap.err" &
CAP_PID=$!
for _ in $(seq 50); do grep -q listening "$WORK/cap.out" 2>/dev/null && break; sleep 0.2; done
CAP=$(sed -n 's/^listening on //p' "$WORK/cap.out")

cat >"$WORK/destinations.json" <<JSON
[{"Name":"S4","URL":"$CAP","Authentication":"NoAuthentication","ProxyType":"Internet","forwardAuthToken":"true"},
 {"Name":"S4_TECH","URL":"$CAP","Authentication":"BasicAuthentication","User":"admin","Password":"admin-pw","ProxyType":"Internet"}]
JSON
cat >"$WORK/settings.toml" <<TOML
[server]
listen = "127.0.0.1:0"
[destinations]
source = "file"
file = "destinations.json"
[identity]
mode = "development"
[[identity.users]]
name = "alice"
password = "alice-pw"
[[graph.data_sources]]
name = "sap.s4"
services = [{ destination = "S4", path = "/odata/v4/sales", metadata_destination = "S4_TECH" }]
TOML

QUERY='{ sap_s4 { A_SalesOrder(top: 20, orderBy: {SalesOrder: asc}) { nodes { SalesOrder SoldToParty TotalNetAmount TransactionCurrency CreationDate to_Item { nodes { SalesOrderItem Material RequestedQuantity NetAmount } } } } } }'
PLAN=$("$BIN" plan --config "$WORK/settings.toml" --query "$QUERY" 2>/dev/null | head -1)
DIRECT_PATH=${PLAN#*GET }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BIZGRAPH_LOG=warn "$BIN" serve --config "$WORK/settings.toml" --listen "127.0.0.1:$PORT" 2>"$WORK/gw.err" &
GW_PID=$!
for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.2; done
AUTH="Authorization: Basic $(printf alice:alice-pw | base64)"
BODY=$(python3 -c 'import json,sys; print(json.dumps({"query": sys.argv[1]}))' "$QUERY")

cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICKS=$(getconf CLK_TCK)

run() { # name, then oha arguments
  local name=$1; shift
  oha -z 3s -c "$CONNECTIONS" --no-tui "$@" >/dev/null
  local cap0 gw0; cap0=$(cpu $CAP_PID); gw0=$(cpu $GW_PID)
  oha -z "${DURATION}s" -c "$CONNECTIONS" --no-tui --output-format json "$@" >"$WORK/$name.json"
  local cap1 gw1; cap1=$(cpu $CAP_PID); gw1=$(cpu $GW_PID)
  python3 - "$WORK/$name.json" "$name" $((cap1 - cap0)) $((gw1 - gw0)) "$TICKS" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
name, cap, gw, ticks = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
summary = data["summary"]
pct = data["latencyPercentiles"]
ok = sum(v for k, v in data["statusCodeDistribution"].items() if k.startswith("2"))
total = sum(data["statusCodeDistribution"].values())
print(f"{name}: {summary['requestsPerSec']:.0f} req/s, p50 {pct['p50']*1000:.2f} ms, p99 {pct['p99']*1000:.2f} ms, "
      f"{ok}/{total} ok, backend CPU {cap/ticks*1000/max(total,1):.3f} ms/req, gateway CPU {gw/ticks*1000/max(total,1):.3f} ms/req")
json.dump({"p50": pct["p50"], "p99": pct["p99"], "rps": summary["requestsPerSec"]}, open(sys.argv[1] + ".short", "w"))
PY
}

echo "backend $CAP, gateway 127.0.0.1:$PORT, ${DURATION}s per run, $CONNECTIONS connections"
echo "direct: GET $DIRECT_PATH"
run direct -H "$AUTH" "$CAP$DIRECT_PATH"
run graphql -m POST -H "$AUTH" -H 'content-type: application/json' -d "$BODY" "http://127.0.0.1:$PORT/graphql"
ODATA='/odata/v4/sap.s4/A_SalesOrder?$select=SalesOrder,SoldToParty,TotalNetAmount,TransactionCurrency,CreationDate&$expand=to_Item($select=SalesOrderItem,Material,RequestedQuantity,NetAmount)&$orderby=SalesOrder%20asc&$top=20'
run odata -H "$AUTH" -H 'accept: application/json;IEEE754Compatible=true' "http://127.0.0.1:$PORT$ODATA"
# The backend again: Node's JIT and SQLite's caches keep warming during the run, so the direct
# figure the gateway's are compared with is the mean of the first and the last run.
run direct-again -H "$AUTH" "$CAP$DIRECT_PATH"
python3 - "$WORK/direct.json.short" "$WORK/direct-again.json.short" "$WORK/graphql.json.short" "$WORK/odata.json.short" <<'PY'
import json, sys
first, last, g, o = (json.load(open(p)) for p in sys.argv[1:5])
d = {k: (first[k] + last[k]) / 2 for k in ("p50", "p99")}
for name, x in (("graphql", g), ("odata", o)):
    print(f"added latency, {name}: p50 {(x['p50']-d['p50'])*1000:.2f} ms, p99 {(x['p99']-d['p99'])*1000:.2f} ms")
PY

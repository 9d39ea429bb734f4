#!/usr/bin/env bash
# Measured vs predicted transmission on a real shaped link: two network namespaces joined by a
# veth pair, the uplink (edge -> cloud) shaped with `tc tbf rate 3mbit` and the downlink with tbf at
# the plan's downlink rate (this kernel has tbf, htb and pfifo but no netem: no delay is added;
# edge-run --delay emulates one in the application). For each model it plans at 3 Mbps, exports the
# selected plan, runs `autosplit cloud-serve` in one namespace and `autosplit edge-run` in the other,
# and prints the measured transmit time (round trip minus the server's own time) beside the
# planner's prediction (uplink + results terms).
#   sudo scripts/measure-link.sh                 ResNet-50 and PP-OCRv4 det (from .models)
#   FRAMES=20 RATE=3mbit scripts/measure-link.sh
# Needs root (ip netns, tc); without it, or without the models, it says so and exits 0.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$here/build}"
models="${AUTOSPLIT_MODELS:-$here/.models}"
cli="$build/app/autosplit"
rate="${RATE:-3mbit}"
frames="${FRAMES:-12}"
work="$(mktemp -d /tmp/measure-link.XXXXXX)"

skip() { echo "measure-link: skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root for ip netns and tc (run it with sudo)"
command -v ip >/dev/null && command -v tc >/dev/null || skip "iproute2 (ip, tc) is not installed"
[ -x "$cli" ] || skip "$cli is not built (scripts/setup.sh)"

edge_ns=as-edge-$$ cloud_ns=as-cloud-$$
cleanup() {
  [ -n "${server_pid:-}" ] && kill -INT "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  ip netns del "$edge_ns" 2>/dev/null || true
  ip netns del "$cloud_ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$edge_ns" || skip "cannot create network namespaces here"
ip netns add "$cloud_ns"
ip link add as-e$$ type veth peer name as-c$$
ip link set as-e$$ netns "$edge_ns"
ip link set as-c$$ netns "$cloud_ns"
ip -n "$edge_ns" addr add 10.77.0.1/24 dev as-e$$
ip -n "$cloud_ns" addr add 10.77.0.2/24 dev as-c$$
for ns in "$edge_ns" "$cloud_ns"; do ip -n "$ns" link set lo up; done
ip -n "$edge_ns" link set as-e$$ up
ip -n "$cloud_ns" link set as-c$$ up
# Token bucket: burst of one MTU-sized packet's worth (so the rate holds from the first bytes),
# a queue long enough for a whole frame (TCP backs off otherwise).
ip netns exec "$edge_ns" tc qdisc add dev as-e$$ root tbf rate "$rate" burst 1600 limit 4mb
ip netns exec "$cloud_ns" tc qdisc add dev as-c$$ root tbf rate 10mbit burst 1600 limit 4mb

printf '%-10s %-26s %10s %12s %12s %8s\n' model cut "frame KiB" "predicted ms" "measured ms" ratio
run_model() {  # name file input-binding [planner options]
  local name=$1 file=$2 binding=$3
  shift 3
  [ -s "$models/$file" ] || { echo "$name: $models/$file missing (scripts/fetch-models.sh): skipped"; return; }
  local dir="$work/$name"
  "$cli" plan "$models/$file" --input "$binding" --synthetic 8 --uplink 3Mbps --max-drop 5% \
    "$@" --out "$dir.plan.json" --export "$dir" >"$dir.plan.log" 2>&1 || { echo "$name: planning failed: $(tail -1 "$dir.plan.log")"; return; }
  if [ ! -s "$dir/cloud.onnx" ]; then echo "$name: the plan is Edge-Only, nothing crosses the link"; return; fi
  ip netns exec "$cloud_ns" "$cli" cloud-serve --plan "$dir" --listen 10.77.0.2:9600 >"$dir.serve.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 50); do grep -q serving "$dir.serve.log" 2>/dev/null && break; sleep 0.1; done
  # Frames one at a time with a pause between them: each starts on an idle connection, as a
  # camera frame does.
  ip netns exec "$edge_ns" "$cli" edge-run --plan "$dir" --connect 10.77.0.2:9600 --synthetic "$frames" --json \
    >"$dir.edge.jsonl" 2>"$dir.edge.err" || { echo "$name: edge-run failed: $(tail -1 "$dir.edge.err")"; }
  kill -INT "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true
  server_pid=
  python3 - "$dir" "$name" <<'EOF'
import json, sys, statistics
d, name = sys.argv[1], sys.argv[2]
m = json.load(open(d + "/manifest.json"))
rows = [json.loads(l) for l in open(d + ".edge.jsonl") if l.strip()]
frames = [r for r in rows if "frame" in r]
if not frames:
    print(f"{name}: no frames measured"); sys.exit(0)
meas = statistics.median(r["transmit_ms"] for r in frames[1:] or frames)  # the first also opens the window
pred = m["predicted"]["transmit_ms"] + m["predicted"]["results_ms"]
cut = m["split_after"][-26:] if m["split_after"] else "(input)"
print(f"{name:<10} {cut:<26} {m['transmitted_bytes']/1024:10.1f} {pred:12.2f} {meas:12.2f} {meas/pred:8.3f}")
EOF
}
run_model resnet50 resnet50.onnx input=1x3x224x224
# The detector fits a 4 GiB edge whole (Edge-Only sends nothing): a 2 MiB edge makes it split.
run_model ppocr_det ch_PP-OCRv4_det_infer.onnx x=1x3x640x640 --edge-memory 2MiB
echo "(predicted: the planner's uplink + results terms at 3 Mbps up / 10 Mbps down; measured: median round trip"
echo " minus the server's unpack + cloud time over $frames frames, tbf-shaped veth between two namespaces)"

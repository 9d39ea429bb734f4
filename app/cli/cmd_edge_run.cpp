// autosplit edge-run: the edge half of an exported plan, sending its codes to cloud-serve.
#include "command.h"
#include "endpoint.h"
#include "model_loading.h"

#include "autosplit/data/data_folder.h"
#include "autosplit/data/dataset.h"
#include "autosplit/deploy/frame_client.h"
#include "autosplit/deploy/runtime.h"
#include "autosplit/eval/text_metrics.h"
#include "autosplit/util/units.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

namespace autosplit::cli {
namespace {

const std::string kUsage =
    "usage: autosplit edge-run --plan DIR --connect HOST:PORT (--data DIR [--preprocess F] | --synthetic N)\n"
    "                          [--repeat N] [--delay 0ms] [--timeout 30000ms] [--dict FILE] [--json]\n"
    "\n"
    "Runs the edge half of an exported plan (DIR or DIR/manifest.json from `autosplit export`) on\n"
    "each sample, packs the transmitted codes into a frame (plan hash, sequence number, per-tensor\n"
    "header, CRC32C) and sends it to `autosplit cloud-serve`; prints per frame the edge, pack,\n"
    "transmit, cloud and total times and the results, then the medians beside the planner's\n"
    "prediction. Transmit is the round trip minus the server's own unpack + cloud time: uplink,\n"
    "downlink of the results and the stacks on both sides.\n"
    "  --repeat N     send the data set N times [1]\n"
    "  --delay T      emulated one-way propagation delay, slept before sending and after the reply\n"
    "                 (this machine's kernel has no netem) [0ms]\n"
    "  --timeout T    per-frame reply timeout [30000ms]\n"
    "  --dict FILE    CTC dictionary: print class-index results as text\n"
    "  --json         one JSON object per frame, then a summary object (JSON lines)\n";

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

std::string describeResult(const TensorData& t, const std::vector<std::string>& dict) {
    char buf[160];
    if (t.dtype == DType::Int64) {
        if (!dict.empty()) {  // greedy CTC over class indices: merge repeats, drop the blank 0
            std::string text;
            int64_t prev = 0;
            for (int64_t c : t.ints) {
                if (c != prev && c > 0 && c <= static_cast<int64_t>(dict.size())) text += dict[static_cast<size_t>(c - 1)];
                prev = c;
            }
            return "\"" + text + "\"";
        }
        if (t.ints.size() == 1) return "class " + std::to_string(t.ints[0]);
        std::snprintf(buf, sizeof buf, "%zu class indices", t.ints.size());
        return buf;
    }
    if (t.floats.empty()) return "empty";
    if (t.shape.size() == 2 && t.shape[0] == 1) {
        const auto it = std::max_element(t.floats.begin(), t.floats.end());
        std::snprintf(buf, sizeof buf, "argmax %ld (%.4g)", static_cast<long>(it - t.floats.begin()), *it);
        return buf;
    }
    double sum = 0;
    for (float v : t.floats) sum += v;
    std::snprintf(buf, sizeof buf, "%s mean %.4g", shapeString(t.shape).c_str(), sum / static_cast<double>(t.floats.size()));
    return buf;
}

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string plan = args.value("--plan"), connect = args.value("--connect");
    const std::string data = args.value("--data"), preprocess = args.value("--preprocess");
    const std::string synthetic = args.value("--synthetic");
    const int repeat = parseIntOption(args.value("--repeat", "1"), "--repeat");
    const double delayMs = parseMilliseconds(args.value("--delay", "0ms"));
    const double timeoutMs = parseMilliseconds(args.value("--timeout", "30000ms"));
    const std::string dictFile = args.value("--dict");
    const bool json = args.flag("--json");
    if (!args.positionals().empty()) throw UsageError{"unexpected arguments"};
    if (plan.empty()) throw UsageError{"--plan DIR is required (an `autosplit export` directory)"};
    if (connect.empty()) throw UsageError{"--connect HOST:PORT is required"};
    if (data.empty() == synthetic.empty()) throw UsageError{"give either --data DIR or --synthetic N"};
    if (repeat < 1) throw UsageError{"--repeat must be at least 1"};
    const auto [host, port] = parseEndpoint(connect, "--connect");

    const deploy::EdgeRuntime edge(deploy::exportDirOf(plan));
    const auto& m = edge.manifest();
    if (m.transmitted.empty()) throw Error(plan + ": an Edge-Only export sends nothing to a cloud");
    const Dataset set = data.empty() ? syntheticDataset(edge.graph(), parseIntOption(synthetic, "--synthetic"), 1)
                                     : withWarnings(json, [&](std::vector<std::string>* w) {
                                           return loadDataFolder(edge.graph(), data, preprocess, w);
                                       });
    const std::vector<std::string> dict = dictFile.empty() ? std::vector<std::string>{} : loadCtcDictionary(dictFile);
    deploy::FrameClient client(deploy::frameLimitsFor(m));
    const auto timeout = std::chrono::milliseconds(static_cast<int64_t>(timeoutMs));
    client.connect(host, port, timeout);
    if (!json)
        std::printf("plan %s: %s after '%s', %zu tensor(s), %s a frame; predicted %.2f ms (edge %.2f + transmit %.2f + cloud "
                    "%.2f + results %.2f) at %s\n",
                    m.planHash.c_str(), m.kind.c_str(), m.splitAfter.c_str(), m.transmitted.size(),
                    formatBytes(m.transmittedBytes()).c_str(), m.predicted.totalMs, m.predicted.edgeMs, m.predicted.transmitMs,
                    m.predicted.cloudMs, m.predicted.resultsMs, formatBandwidth(m.predicted.uplinkBps).c_str());
    std::vector<double> edgeMs, packMs, transmitMs, cloudMs, totalMs;
    uint64_t seq = 0;
    for (int r = 0; r < repeat; ++r)
        for (size_t s = 0; s < set.samples.size(); ++s, ++seq) {
            const auto t0 = std::chrono::steady_clock::now();
            deploy::EdgeRuntime::Request req = edge.encode(set.samples[s], seq);
            if (delayMs > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delayMs));
            const auto t1 = std::chrono::steady_clock::now();
            const deploy::Frame reply = client.roundTrip(req.frame, timeout);
            const double rtt = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t1).count();
            if (delayMs > 0) std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(delayMs));
            const double total = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
            if (reply.type == deploy::FrameType::Error) throw Error("cloud-serve answered frame " + std::to_string(seq) + " with: " + reply.error);
            double cloud = 0, unpack = 0;
            const std::vector<TensorData> results = deploy::replyResults(reply, &cloud, &unpack);
            const double transmit = rtt - cloud - unpack + 2 * delayMs;
            edgeMs.push_back(req.edgeMs);
            packMs.push_back(req.packMs);
            transmitMs.push_back(transmit);
            cloudMs.push_back(cloud + unpack);
            totalMs.push_back(total);
            const std::string name = set.sampleNames.empty() ? std::to_string(s) : set.sampleNames[s];
            if (json) {
                nlohmann::json j{{"frame", seq},        {"sample", name},         {"edge_ms", req.edgeMs},
                                 {"pack_ms", req.packMs}, {"transmit_ms", transmit}, {"cloud_ms", cloud + unpack},
                                 {"total_ms", total},    {"payload_bytes", req.payloadBytes}};
                nlohmann::json res = nlohmann::json::array();
                for (const auto& t : results) res.push_back(describeResult(t, dict));
                j["results"] = std::move(res);
                std::cout << j.dump() << "\n";
            } else {
                std::printf("frame %3llu %-24s edge %7.2f  pack %6.2f  transmit %8.2f  cloud %7.2f  total %8.2f ms  %s\n",
                            static_cast<unsigned long long>(seq), name.c_str(), req.edgeMs, req.packMs, transmit, cloud + unpack,
                            total, results.empty() ? "" : describeResult(results.front(), dict).c_str());
            }
        }
    const double predictedTransmit = m.predicted.transmitMs + m.predicted.resultsMs;
    if (json) {
        std::cout << nlohmann::json{{"summary", true},
                                    {"frames", totalMs.size()},
                                    {"median_ms", {{"edge", median(edgeMs)}, {"pack", median(packMs)}, {"transmit", median(transmitMs)},
                                                   {"cloud", median(cloudMs)}, {"total", median(totalMs)}}},
                                    {"predicted_ms", {{"edge", m.predicted.edgeMs}, {"transmit", predictedTransmit},
                                                      {"cloud", m.predicted.cloudMs}, {"total", m.predicted.totalMs}}},
                                    {"plan_hash", m.planHash}}
                         .dump()
                  << "\n";
    } else {
        std::printf("median of %zu frames: edge %.2f  pack %.2f  transmit %.2f  cloud %.2f  total %.2f ms\n", totalMs.size(),
                    median(edgeMs), median(packMs), median(transmitMs), median(cloudMs), median(totalMs));
        std::printf("predicted:            edge %.2f (%s)  transmit %.2f (uplink + results)  cloud %.2f (%s)  total %.2f ms\n",
                    m.predicted.edgeMs, m.predicted.edgeOrigin.c_str(), predictedTransmit, m.predicted.cloudMs,
                    m.predicted.cloudOrigin.c_str(), m.predicted.totalMs);
        std::printf("(edge and cloud here are this machine's CPU running the exported models, not the simulated devices;\n"
                    " transmit is the part a shaped link measures against the planner's link model)\n");
    }
    return 0;
}

const Registrar reg({"edge-run", "run an exported plan's edge half and send its codes to cloud-serve", kUsage, run});

}  // namespace
}  // namespace autosplit::cli

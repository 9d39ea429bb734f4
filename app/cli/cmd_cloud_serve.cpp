// autosplit cloud-serve: the cloud half of an exported plan behind the framed TCP runtime.
#include "command.h"
#include "endpoint.h"
#include "model_loading.h"

#include "autosplit/deploy/frame_server.h"
#include "autosplit/deploy/runtime.h"
#include "autosplit/util/units.h"

#include <cmath>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <pthread.h>
#include <thread>

namespace autosplit::cli {
namespace {

const std::string kUsage =
    "usage: autosplit cloud-serve --plan DIR --listen HOST:PORT [--threads N] [--max-clients N]\n"
    "                             [--read-timeout 10000ms] [--idle-timeout 60000ms] [--map-threshold T]\n"
    "\n"
    "Serves the cloud half of an exported plan (DIR, or DIR/manifest.json, as `autosplit export`\n"
    "writes it) to `autosplit edge-run` clients: each request frame is checked (magic, version,\n"
    "plan hash, sizes against the manifest's frame limit, CRC32C, tensor ids, bits and shapes), its\n"
    "codes unpacked and the cloud model run; the reply carries the results in the plan's results\n"
    "encoding and the server's cloud time. A bad frame gets an error reply naming the problem;\n"
    "other clients are served meanwhile. Runs until SIGINT / SIGTERM, then prints its counters.\n"
    "  --listen HOST:PORT   address to bind (port 0: any free port, printed)\n"
    "  --threads N          threads running the cloud model, one request each [1]\n"
    "  --max-clients N      connections served at once [64]\n"
    "  --read-timeout T     a started frame must complete within T [10000ms]\n"
    "  --idle-timeout T     connections idle for T are closed [60000ms]\n";

int run(const Args& argv) {
    ArgReader args(argv, kUsage);
    const std::string plan = args.value("--plan");
    const std::string listen = args.value("--listen");
    const int threads = parseIntOption(args.value("--threads", "1"), "--threads");
    const int maxClients = parseIntOption(args.value("--max-clients", "64"), "--max-clients");
    const double readMs = parseMilliseconds(args.value("--read-timeout", "10000ms"));
    const double idleMs = parseMilliseconds(args.value("--idle-timeout", "60000ms"));
    const std::string mapThreshold = args.value("--map-threshold", "0.3");
    if (!args.positionals().empty()) throw UsageError{"unexpected arguments"};
    if (plan.empty()) throw UsageError{"--plan DIR is required (an `autosplit export` directory)"};
    if (listen.empty()) throw UsageError{"--listen HOST:PORT is required"};
    if (threads < 1 || maxClients < 1) throw UsageError{"--threads and --max-clients must be at least 1"};
    const auto [host, port] = parseEndpoint(listen, "--listen");

    // Signals go to one waiting thread (blocked everywhere else, before any thread starts).
    sigset_t stopSignals;
    sigemptyset(&stopSignals);
    sigaddset(&stopSignals, SIGINT);
    sigaddset(&stopSignals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stopSignals, nullptr);

    char* end = nullptr;
    const float threshold = std::strtof(mapThreshold.c_str(), &end);
    if (mapThreshold.empty() || *end != '\0' || !std::isfinite(threshold))
        throw UsageError{"--map-threshold needs a number, got '" + mapThreshold + "'"};
    const deploy::CloudRuntime cloud(deploy::exportDirOf(plan), 1, threshold);
    deploy::ServerOptions o;
    o.limits = deploy::frameLimitsFor(cloud.manifest());
    o.readTimeout = std::chrono::milliseconds(static_cast<int64_t>(readMs));
    o.idleTimeout = std::chrono::milliseconds(static_cast<int64_t>(idleMs));
    o.workerThreads = threads;
    o.maxClients = maxClients;
    deploy::FrameServer server(host, port, o, [&cloud](const deploy::Frame& f) { return cloud.handle(f); });
    const auto& m = cloud.manifest();
    std::printf("serving plan %s (%s after '%s', %zu tensor(s) in, results as %s) on %s:%u, frames up to %s\n",
                m.planHash.c_str(), m.kind.c_str(), m.splitAfter.c_str(), m.transmitted.size(), m.resultsEncoding.c_str(),
                host.c_str(), static_cast<unsigned>(server.port()), formatBytes(o.limits.maxFrameBytes).c_str());
    std::fflush(stdout);
    std::thread stopper([&] {
        int sig = 0;
        sigwait(&stopSignals, &sig);
        server.stop();
    });
    server.run();
    if (stopper.joinable()) {
        // run() only returns after stop(): the stopper has finished, or it is still waiting when
        // the server stopped on its own (it does not).
        stopper.join();
    }
    const deploy::ServerStats s = server.stats();
    uint64_t rejected = 0;
    for (const auto& [code, n] : s.framesRejected) rejected += n;
    std::printf("stopped: %llu connections, %llu frames answered, %llu rejected", static_cast<unsigned long long>(s.connectionsAccepted),
                static_cast<unsigned long long>(s.framesOk), static_cast<unsigned long long>(rejected));
    for (const auto& [code, n] : s.framesRejected) std::printf(" (%s %llu)", deploy::toString(code), static_cast<unsigned long long>(n));
    std::printf(", peak buffered %s\n", formatBytes(static_cast<int64_t>(s.peakBytesBuffered)).c_str());
    return 0;
}

const Registrar reg({"cloud-serve", "serve an exported plan's cloud half over the framed TCP runtime", kUsage, run});

}  // namespace
}  // namespace autosplit::cli

// Float reference executor over the graph IR (raw imported graphs and optimized ones with fused
// activations / folded BatchNorm). Kernels are Eigen/GEMM based and use a small worker pool.
//
// Thread safety: an Executor never mutates its Graph and keeps no per-run state, so several
// threads may call run() on the same Executor concurrently.
#pragma once

#include "autosplit/ir/graph.h"
#include "autosplit/util/cancel.h"
#include "autosplit/util/errors.h"
#include "autosplit/util/fake_quant.h"

#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace autosplit {

// The graph holds an op (or an op variant: attribute value, data type, optional output) the
// executor cannot run. Thrown by the Executor constructor, before any work starts.
class UnsupportedError : public Error {
public:
    UnsupportedError(std::string op, std::string node, const std::string& detail);
    const std::string& op() const { return op_; }
    const std::string& node() const { return node_; }

private:
    std::string op_, node_;
};

struct ExecutorOptions {
    // Worker threads, including the caller: 0 = std::thread::hardware_concurrency().
    int threads = 0;
    // Worker threads at background priority (util/thread_priority.h); the calling thread of a
    // run keeps its own. For measurements that run beside an interactive window.
    bool background = false;
};

// Per-run hooks used by calibration (observe) and fake-quant evaluation (transform).
struct RunHooks {
    // Replacement data for weight tensors, by tensor id (e.g. fake-quantized weights of the
    // edge layers, float16-rounded weights of the cloud layers). Shapes must match.
    const std::unordered_map<int, std::shared_ptr<const TensorData>>* weightOverrides = nullptr;
    // Called once for every activation value before anything consumes it: graph inputs first
    // (node = -1), then each node output after its fused activation (node = producer index).
    // May modify the value in place (fake quantization, float16 rounding) or just observe it.
    std::function<void(int node, int tensor, TensorData& value)> onValue;
    // Fake quantization of each node's first output (by node index; an inactive grid: none),
    // after its fused activation and before onValue sees it. Conv applies it in its epilogue,
    // while the tile is in cache; other ops right after the node. Float outputs only.
    const std::vector<FakeQuantGrid>* outputGrids = nullptr;
    // Extra tensors (ids) to return besides the graph outputs, e.g. a split's cut tensors.
    std::vector<int> keep;
    // Stop after this node index (inclusive): -1 = run the whole graph. Outputs that were not
    // produced by then are returned empty (dtype Other).
    int lastNode = -1;
    CancelToken cancel;  // polled between nodes; throws Cancelled
};

struct RunResult {
    std::vector<TensorData> outputs;  // in Graph::outputs order
    std::unordered_map<int, TensorData> kept;  // RunHooks::keep
};

class ThreadPool;
class ExecutorRun;
namespace exec {
class BufferCache;
}

class Executor {
public:
    // Validates every node up front; throws UnsupportedError naming op and node.
    explicit Executor(const Graph& g, ExecutorOptions opts = {});
    ~Executor();
    Executor(const Executor&) = delete;
    Executor& operator=(const Executor&) = delete;

    const Graph& graph() const { return graph_; }
    int threads() const;

    // Inputs in Graph::inputs order. Throws Error on a missing input, a dtype or rank that does
    // not fit the graph, or NaN/Inf in a float input.
    RunResult run(std::vector<TensorData> inputs, const RunHooks& hooks = {}) const;
    // The same run, node by node (see ExecutorRun): for callers that advance several inputs in
    // lockstep and act between nodes. The run copies `hooks`; what they point to must outlive it.
    std::unique_ptr<ExecutorRun> start(std::vector<TensorData> inputs, RunHooks hooks = {}) const;
    // Convenience: outputs only.
    std::vector<TensorData> operator()(std::vector<TensorData> inputs) const {
        return run(std::move(inputs)).outputs;
    }

    // Op types this executor implements (default ONNX domain), sorted.
    static std::vector<std::string> supportedOps();
    // Empty when node `n` of `g` can run; otherwise the reason (op variant, dtype...).
    static std::string unsupportedReason(const Graph& g, const Node& n);

private:
    friend class ExecutorRun;
    friend void parallelFor(const Executor&, int, const std::function<void(int)>&, const CancelToken&);  // parallel.h
    const Graph& graph_;
    std::unique_ptr<ThreadPool> pool_;
    std::unique_ptr<exec::BufferCache> buffers_;  // freed tensors' storage, reused by later outputs
    std::vector<int> lastUse_;  // per tensor: index of the last node reading it (-1: none)
};

// One run of an Executor that advances on request: runTo(i) runs nodes up to i (inclusive,
// within RunHooks::lastNode), finish() runs the rest and returns what run() would have. Inputs are
// checked (and onValue called for them) when the run starts. Not thread-safe itself; distinct
// runs of one Executor may advance on different threads.
class ExecutorRun {
public:
    ~ExecutorRun();
    ExecutorRun(const ExecutorRun&) = delete;
    ExecutorRun& operator=(const ExecutorRun&) = delete;
    void runTo(int node);
    int nextNode() const { return next_; }
    RunResult finish();
    // A second run that continues from where this one stands (nextNode()) with other hooks,
    // sharing the values computed so far (nothing is copied; neither run changes them): what a
    // run that varies only from node k on needs, without recomputing nodes 0..k-1. onValue is
    // called only for values the fork computes; RunHooks::keep returns tensors still live here or
    // computed later; weightOverrides apply to the nodes the fork runs. The fork may advance on
    // another thread than this run.
    std::unique_ptr<ExecutorRun> fork(RunHooks hooks) const;

private:
    friend class Executor;
    ExecutorRun(const Executor& ex, std::vector<TensorData> inputs, RunHooks hooks);
    ExecutorRun(const ExecutorRun& from, RunHooks hooks);
    void pinOutputsAndKept();
    const TensorData* weightData(int t) const;
    void release(int t);  // drops the value of tensor t, recycling its storage
    const Executor& ex_;
    RunHooks hooks_;
    int last_ = -1, next_ = 0;
    std::vector<char> pinned_;
    std::vector<std::shared_ptr<const TensorData>> values_;
};

// Round a float to the nearest float16 value (round half to even), saturating to +-inf like a
// real float16 conversion; used for Cast to float16 and for the cloud part of a plan.
float roundToFloat16(float x);
void roundToFloat16(float* values, size_t n);  // in place, vectorized where the processor has F16C
void roundToFloat16(TensorData& t);

}  // namespace autosplit

// Private to core/src: kernel registry, kernel context, shared shape/broadcast helpers and the
// worker pool. Kernels live in ops_*.cpp, one file per family. Besides the executor, only
// constant folding (passes/constant_folding.cpp) uses it, through runNode.
#pragma once

#include "autosplit/exec/executor.h"
#include "autosplit/ir/graph.h"
#include "autosplit/util/errors.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace autosplit {

// Fixed set of workers; parallelFor splits [0, n) into chunks and the caller works too. Safe to
// call from several threads at once (jobs share the queue) and from inside a chunk (nested
// calls run inline to avoid waiting on a full pool). A run calls parallelFor a few hundred times,
// so an idle worker spins for kSpin before it sleeps, and the caller spins as long for the last
// chunk before it blocks: a futex wake-up on a VM takes tens of microseconds each way.
class ThreadPool {
public:
    explicit ThreadPool(int threads, bool background = false);
    ~ThreadPool();
    int size() const { return threads_; }
    // fn(begin, end) over contiguous chunks of at least `grain` items.
    void parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

private:
    void workerLoop();
    int threads_;
    std::vector<std::thread> workers_;
    std::mutex mutex_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> queue_;
    std::atomic<int64_t> queued_{0};  // queue_.size(), readable without the mutex while spinning
    bool stop_ = false;
    std::atomic<bool> stopping_{false};
};

namespace exec {

// Float buffers of finished tensors, handed to the next outputs of about the same size. Tensors
// of a few MB come from mmap and go back at free, so every run would fault each of their pages
// in again (a few microseconds a page on a VM: more than an Add over the tensor costs).
// Executor-wide and thread-safe; holds at most kMaxBytes.
class BufferCache {
public:
    static constexpr size_t kMinFloats = 16384;            // smaller ones stay in malloc's bins
    static constexpr size_t kMaxBytes = size_t{256} << 20;
    // A cached vector whose capacity is at least n (and at most 2n), its size and values as
    // given back; empty if none fits. Of those that fit, the one given back last: its lines are
    // the likeliest still in cache, so the kernel writing it does not first read it from memory.
    std::vector<float> take(size_t n);
    void give(std::vector<float>&& v);

private:
    struct Entry {
        uint64_t given;  // order of give()
        std::vector<float> v;
    };
    std::mutex mutex_;
    std::multimap<size_t, Entry> free_;  // by capacity
    size_t bytes_ = 0;
    uint64_t gives_ = 0;
};

// makeFloat draws from this cache on the thread that runs a node (set by ExecutorRun).
class BufferCacheScope {
public:
    explicit BufferCacheScope(BufferCache* cache);
    ~BufferCacheScope();
    BufferCacheScope(const BufferCacheScope&) = delete;
    BufferCacheScope& operator=(const BufferCacheScope&) = delete;

private:
    BufferCache* saved_;
};

struct KernelContext {
    const Graph& graph;
    const Node& node;
    std::vector<const TensorData*> in;  // nullptr for omitted optional inputs
    std::vector<TensorData>& out;       // one per node output (omitted outputs stay unused)
    ThreadPool& pool;
    // Fake quantization of out[0] after the fused activation (RunHooks::outputGrids), or null.
    // A kernel that applies the activation (OpEntry::appliesActivation) applies this too.
    const FakeQuantGrid* outputGrid = nullptr;
    // Per input: the run's own copy of it when no later node reads it and nothing else holds it
    // (not a weight, a graph output, a kept tensor or one shared with a fork), else null.
    std::vector<TensorData*> spare = {};

    const TensorData& input(size_t i) const;  // throws when missing
    // A float output of `shape` and `dt`: input i's storage, values and all, when it is spare and
    // has that shape and dtype (an element-wise kernel then computes in place, reading element k
    // before writing it; take the input's data pointers first), else new uninitialized storage.
    TensorData reuseInput(size_t i, std::vector<int64_t> shape, DType dt);
    bool hasInput(size_t i) const { return i < in.size() && in[i] != nullptr; }
    [[noreturn]] void fail(const std::string& what) const;  // Error naming node and op
};

using Kernel = void (*)(KernelContext&);
// Static check of a node (attributes, dtypes known from the graph, outputs): empty if runnable.
using Checker = std::string (*)(const Graph&, const Node&);

struct OpEntry {
    Kernel kernel = nullptr;
    Checker check = nullptr;
    // Kernel applies the node's fused activation itself (e.g. in the GEMM epilogue), and then
    // KernelContext::outputGrid.
    bool appliesActivation = false;
};

using Registry = std::map<std::string, OpEntry>;
const Registry& registry();

void registerConvOps(Registry& r);
void registerGemmOps(Registry& r);
void registerElementwiseOps(Registry& r);
void registerShapeOps(Registry& r);
void registerPoolOps(Registry& r);
void registerResizeOps(Registry& r);
void registerReduceOps(Registry& r);
void registerQuantOps(Registry& r);

// ---- helpers shared by kernels ----
int64_t numel(const std::vector<int64_t>& shape);
std::string shapeStr(const std::vector<int64_t>& shape);
TensorData makeFloat(std::vector<int64_t> shape, DType dt = DType::Float32);
// The same with unspecified values (recycled storage is not cleared): for kernels that write
// every element.
TensorData makeFloatUninit(std::vector<int64_t> shape, DType dt = DType::Float32);
// Scratch of n floats with unspecified values, from the running executor's buffer cache when
// there is one; hand it back with recycleBuffer.
std::vector<float> takeBuffer(size_t n);
void recycleBuffer(std::vector<float>&& v);
TensorData makeInt(std::vector<int64_t> shape, DType dt = DType::Int64);
// Normalizes a possibly negative axis against `rank`; throws naming the node when out of range.
int64_t normAxis(const KernelContext& c, int64_t axis, int64_t rank);
// Integer view of a tensor's values (ints, or floats truncated): shape/axes/pads inputs.
std::vector<int64_t> toInts(const TensorData& t);
std::vector<float> toFloats(const TensorData& t);
// Wrap an integer into the range of a narrower integer dtype (two's complement), bool to 0/1.
int64_t wrapInt(DType dt, int64_t v);
// Numpy-style broadcast of two shapes; throws naming the node when incompatible.
std::vector<int64_t> broadcastShapes(const KernelContext& c, const std::vector<int64_t>& a,
                                     const std::vector<int64_t>& b);
// Strides of `shape` aligned right to `outRank` dims with 0 for broadcast dims.
std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& shape, size_t outRank);
std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape);

// Row-major single-precision GEMM: C[M,N] (=|+=) A[M,K] * B[K,N] with leading dimensions,
// parallelized over the pool. transA/transB read A as [K,M] / B as [N,K].
void sgemm(ThreadPool& pool, bool transA, bool transB, int64_t M, int64_t N, int64_t K, const float* A,
           int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc, bool accumulate);

// Fused-activation epilogue over a range (used by kernels that apply it themselves).
void applyActivation(const Activation& act, float* data, int64_t n);
// The same loops built for the baseline instruction set only (applyActivation runs them 16-wide
// on AVX-512 CPUs; tests compare the two).
void applyActivationBaseline(const Activation& act, float* data, int64_t n);
// The activation, then the fake quantization when grid is not null.
void applyActivationAndGrid(const Activation& act, const FakeQuantGrid* grid, float* data, int64_t n);
// The node's fused activation, then its output grid, over all of y as a second pass (what runNode
// does for a kernel that does not apply them itself).
void finishFloatOutput(KernelContext& c, TensorData& y);

// Runs node `n` of `g` on `in` (one per input, nullptr for omitted ones): its kernel, then its
// fused activation unless the kernel applied it. One output per node output. What ExecutorRun
// does per node, and what constant folding (passes/constant_folding.cpp) evaluates constant
// sub-graphs with. Throws Error naming the node when the kernel rejects its inputs.
// outputGrid: KernelContext::outputGrid (null: none).
// spare: KernelContext::spare (empty: none).
std::vector<TensorData> runNode(const Graph& g, const Node& n, std::vector<const TensorData*> in, ThreadPool& pool,
                                const FakeQuantGrid* outputGrid = nullptr, std::vector<TensorData*> spare = {});

}  // namespace exec
}  // namespace autosplit

#include "autosplit/exec/executor.h"

#include "autosplit/util/cpu_features.h"
#include "autosplit/util/finite_scan.h"
#include "autosplit/util/float16.h"
#include "autosplit/util/thread_priority.h"
#include "exec_internal.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <sstream>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace autosplit {

// ---------------------------------------------------------------- errors

UnsupportedError::UnsupportedError(std::string op, std::string node, const std::string& detail)
    : Error("unsupported op " + op + " in node '" + node + "'" + (detail.empty() ? "" : ": " + detail)),
      op_(std::move(op)),
      node_(std::move(node)) {}

// ---------------------------------------------------------------- float16

float roundToFloat16(float x) { return halfBitsToFloat(floatToHalfBits(x)); }

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
namespace {
// The processor's own conversions (F16C): round to nearest even, overflow to inf, subnormals
// exact, as floatToHalfBits; eight values per instruction instead of a branchy call each.
__attribute__((target("avx,f16c"))) void roundToFloat16F16c(float* p, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(p + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(p + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; ++i) p[i] = roundToFloat16(p[i]);
}
bool hasF16c() {
    static const bool has = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx");
    }();
    return has;
}
}  // namespace
#endif

void roundToFloat16(float* p, size_t n) {
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    if (hasF16c()) return roundToFloat16F16c(p, n);
#endif
    for (size_t i = 0; i < n; ++i) p[i] = roundToFloat16(p[i]);
}

void roundToFloat16(TensorData& t) { roundToFloat16(t.floats.data(), t.floats.size()); }

// ---------------------------------------------------------------- thread pool

namespace {
thread_local int tlsParallelDepth = 0;

constexpr auto kSpin = std::chrono::microseconds(200);

inline void cpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#else
    std::this_thread::yield();
#endif
}

// Spins until done() or kSpin has passed; whether done() held.
template <class F>
bool spinUntil(F done) {
    const auto end = std::chrono::steady_clock::now() + kSpin;
    for (;;) {
        for (int i = 0; i < 64; ++i) {
            if (done()) return true;
            cpuRelax();
        }
        if (std::chrono::steady_clock::now() >= end) return done();
    }
}
}  // namespace

ThreadPool::ThreadPool(int threads, bool background) : threads_(std::max(1, threads)) {
    for (int i = 1; i < threads_; ++i)
        workers_.emplace_back([this, background] {
            if (background) lowerCurrentThreadPriority();
            workerLoop();
        });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stop_ = true;
        stopping_ = true;
    }
    cv_.notify_all();
    for (auto& w : workers_) w.join();
}

void ThreadPool::workerLoop() {
    for (;;) {
        spinUntil([this] { return queued_.load(std::memory_order_relaxed) > 0 || stopping_.load(std::memory_order_relaxed); });
        std::function<void()> task;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (stop_ && queue_.empty()) return;
            task = std::move(queue_.front());
            queue_.pop_front();
            queued_.fetch_sub(1, std::memory_order_relaxed);
        }
        task();
    }
}

void ThreadPool::parallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t chunks = std::min<int64_t>(threads_, (n + grain - 1) / grain);
    if (chunks <= 1 || tlsParallelDepth > 0) {
        ++tlsParallelDepth;
        fn(0, n);
        --tlsParallelDepth;
        return;
    }
    struct Job {
        std::atomic<int64_t> remaining;
        std::mutex m;
        std::condition_variable done;
        std::exception_ptr error;
    };
    auto job = std::make_shared<Job>();
    job->remaining = chunks;
    auto runChunk = [job, &fn, n, chunks](int64_t k) {
        const int64_t b = n * k / chunks, e = n * (k + 1) / chunks;
        ++tlsParallelDepth;
        try {
            fn(b, e);
        } catch (...) {
            std::lock_guard<std::mutex> lock(job->m);
            if (!job->error) job->error = std::current_exception();
        }
        --tlsParallelDepth;
        if (job->remaining.fetch_sub(1) == 1) {
            std::lock_guard<std::mutex> lock(job->m);
            job->done.notify_all();
        }
    };
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (int64_t k = 1; k < chunks; ++k) queue_.emplace_back([runChunk, k] { runChunk(k); });
        queued_.fetch_add(chunks - 1, std::memory_order_relaxed);
    }
    cv_.notify_all();
    runChunk(0);
    // Help with queued work (ours or a concurrent caller's) instead of blocking a core.
    while (job->remaining.load() > 0) {
        std::function<void()> task;
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (!queue_.empty()) {
                task = std::move(queue_.front());
                queue_.pop_front();
                queued_.fetch_sub(1, std::memory_order_relaxed);
            }
        }
        if (task) {
            task();
            continue;
        }
        if (spinUntil([&] { return job->remaining.load() == 0 || queued_.load(std::memory_order_relaxed) > 0; }))
            continue;
        std::unique_lock<std::mutex> lock(job->m);
        job->done.wait(lock, [&] { return job->remaining.load() == 0; });
    }
    if (job->error) std::rethrow_exception(job->error);
}

// ---------------------------------------------------------------- kernel helpers

namespace exec {

const TensorData& KernelContext::input(size_t i) const {
    if (!hasInput(i)) fail("input " + std::to_string(i) + " is missing");
    return *in[i];
}

TensorData KernelContext::reuseInput(size_t i, std::vector<int64_t> shape, DType dt) {
    TensorData* s = i < spare.size() ? spare[i] : nullptr;
    if (!s || !s->isFloat() || s->dtype != dt || s->shape != shape) return makeFloatUninit(std::move(shape), dt);
    TensorData y;
    y.dtype = dt;
    y.shape = std::move(shape);
    y.floats = std::move(s->floats);  // the same heap block: pointers taken before stay valid
    spare[i] = nullptr;
    return y;
}

void KernelContext::fail(const std::string& what) const {
    throw Error("node '" + node.name + "' (" + node.op + "): " + what);
}

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
}

std::string shapeStr(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? "," : "") + std::to_string(shape[i]);
    return s + "]";
}

namespace {
thread_local BufferCache* tlsBufferCache = nullptr;
}

std::vector<float> BufferCache::take(size_t n) {
    if (n < kMinFloats) return {};
    std::lock_guard<std::mutex> lock(mutex_);
    auto best = free_.end();
    for (auto it = free_.lower_bound(n); it != free_.end() && it->first <= 2 * n; ++it)
        if (best == free_.end() || it->second.given > best->second.given) best = it;
    if (best == free_.end()) return {};
    std::vector<float> v = std::move(best->second.v);
    bytes_ -= best->first * sizeof(float);
    free_.erase(best);
    return v;
}

void BufferCache::give(std::vector<float>&& v) {
    const size_t cap = v.capacity();
    if (cap < kMinFloats) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (bytes_ + cap * sizeof(float) > kMaxBytes) return;  // v frees itself
    bytes_ += cap * sizeof(float);
    free_.emplace(cap, Entry{gives_++, std::move(v)});
}

BufferCacheScope::BufferCacheScope(BufferCache* cache) : saved_(tlsBufferCache) { tlsBufferCache = cache; }
BufferCacheScope::~BufferCacheScope() { tlsBufferCache = saved_; }

std::vector<float> takeBuffer(size_t n) {
    std::vector<float> v;
    if (tlsBufferCache) v = tlsBufferCache->take(n);
    v.resize(n);  // shrinking a recycled vector writes nothing
    return v;
}

void recycleBuffer(std::vector<float>&& v) {
    if (tlsBufferCache) tlsBufferCache->give(std::move(v));
}

TensorData makeFloat(std::vector<int64_t> shape, DType dt) {
    TensorData t;
    t.dtype = dt;
    const auto n = static_cast<size_t>(numel(shape));
    if (tlsBufferCache) {
        t.floats = tlsBufferCache->take(n);
        t.floats.clear();
    }
    t.floats.resize(n);
    t.shape = std::move(shape);
    return t;
}

TensorData makeFloatUninit(std::vector<int64_t> shape, DType dt) {
    TensorData t;
    t.dtype = dt;
    t.floats = takeBuffer(static_cast<size_t>(numel(shape)));
    t.shape = std::move(shape);
    return t;
}

TensorData makeInt(std::vector<int64_t> shape, DType dt) {
    TensorData t;
    t.dtype = dt;
    t.ints.resize(static_cast<size_t>(numel(shape)));
    t.shape = std::move(shape);
    return t;
}

int64_t normAxis(const KernelContext& c, int64_t axis, int64_t rank) {
    const int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= std::max<int64_t>(rank, 1))
        c.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
    return a;
}

std::vector<int64_t> toInts(const TensorData& t) {
    if (!t.isFloat()) return t.ints;
    std::vector<int64_t> r(t.floats.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<int64_t>(t.floats[i]);
    return r;
}

std::vector<float> toFloats(const TensorData& t) {
    if (t.isFloat()) return t.floats;
    std::vector<float> r(t.ints.size());
    for (size_t i = 0; i < r.size(); ++i) r[i] = static_cast<float>(t.ints[i]);
    return r;
}

int64_t wrapInt(DType dt, int64_t v) {
    switch (dt) {
    case DType::Int8: return static_cast<int8_t>(static_cast<uint8_t>(v & 0xff));
    case DType::UInt8: return v & 0xff;
    case DType::Int16: return static_cast<int16_t>(static_cast<uint16_t>(v & 0xffff));
    case DType::Int32: return static_cast<int32_t>(static_cast<uint32_t>(v & 0xffffffff));
    case DType::Bool: return v != 0;
    default: return v;
    }
}

std::vector<int64_t> broadcastShapes(const KernelContext& c, const std::vector<int64_t>& a,
                                     const std::vector<int64_t>& b) {
    const size_t r = std::max(a.size(), b.size());
    std::vector<int64_t> out(r);
    for (size_t i = 0; i < r; ++i) {
        const int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
        const int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
        if (da != db && da != 1 && db != 1)
            c.fail("shapes " + shapeStr(a) + " and " + shapeStr(b) + " do not broadcast");
        out[i] = da == 1 ? db : da;
    }
    return out;
}

std::vector<int64_t> contiguousStrides(const std::vector<int64_t>& shape) {
    std::vector<int64_t> s(shape.size(), 1);
    for (size_t i = shape.size(); i-- > 1;) s[i - 1] = s[i] * shape[i];
    return s;
}

std::vector<int64_t> broadcastStrides(const std::vector<int64_t>& shape, size_t outRank) {
    std::vector<int64_t> s(outRank, 0);
    const auto cs = contiguousStrides(shape);
    const size_t off = outRank - shape.size();
    for (size_t i = 0; i < shape.size(); ++i) s[off + i] = shape[i] == 1 ? 0 : cs[i];
    return s;
}

namespace {

// applyActivation's loops, inlined into a baseline build (x86-64-v3: 8-wide) and an AVX-512 one
// (16-wide): the same operations per element in both, so the same values.
[[gnu::always_inline]] inline void activationLoops(const Activation& act, float* d, int64_t n) {
    using K = Activation::Kind;
    switch (act.kind) {
    case K::None: return;
    case K::Relu:
        for (int64_t i = 0; i < n; ++i) d[i] = d[i] > 0.f ? d[i] : 0.f;
        return;
    case K::Clip:
        for (int64_t i = 0; i < n; ++i) d[i] = std::min(std::max(d[i], act.min), act.max);
        return;
    case K::LeakyRelu:
        for (int64_t i = 0; i < n; ++i) d[i] = d[i] >= 0.f ? d[i] : d[i] * act.alpha;
        return;
    // The same float operations as Activation::apply, in its order, as loops the compiler
    // vectorizes (a call per element cost PP-OCRv4 det a tenth of its run).
    case K::HardSigmoid: {
        const float a = act.alpha, b = act.beta;
        for (int64_t i = 0; i < n; ++i) d[i] = std::max(0.f, std::min(1.f, a * d[i] + b));
        return;
    }
    case K::HardSwish:
        for (int64_t i = 0; i < n; ++i) d[i] = d[i] * std::max(0.f, std::min(1.f, d[i] / 6.f + 0.5f));
        return;
    case K::HardSwishMul: {
        const float a = act.alpha, b = act.beta;
        for (int64_t i = 0; i < n; ++i) d[i] = d[i] * std::max(0.f, std::min(1.f, a * d[i] + b));
        return;
    }
    case K::Sigmoid:
        for (int64_t i = 0; i < n; ++i) d[i] = 1.f / (1.f + std::exp(-d[i]));
        return;
    case K::Swish:
        for (int64_t i = 0; i < n; ++i) d[i] = d[i] / (1.f + std::exp(-d[i]));
        return;
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512vl,avx512dq,avx512bw"))) void activationWide(const Activation& act, float* d, int64_t n) {
    activationLoops(act, d, n);
}
#endif

}  // namespace

void applyActivation(const Activation& act, float* d, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (cpuHasAvx512()) return activationWide(act, d, n);
#endif
    activationLoops(act, d, n);
}

void applyActivationBaseline(const Activation& act, float* d, int64_t n) { activationLoops(act, d, n); }

const Registry& registry() {
    static const Registry r = [] {
        Registry reg;
        registerConvOps(reg);
        registerGemmOps(reg);
        registerElementwiseOps(reg);
        registerShapeOps(reg);
        registerPoolOps(reg);
        registerResizeOps(reg);
        registerReduceOps(reg);
        registerQuantOps(reg);
        return reg;
    }();
    return r;
}

void applyActivationAndGrid(const Activation& act, const FakeQuantGrid* grid, float* d, int64_t n) {
    applyActivation(act, d, n);
    if (grid) fakeQuantizeGrid(d, n, *grid);
}

std::vector<TensorData> runNode(const Graph& g, const Node& n, std::vector<const TensorData*> in, ThreadPool& pool,
                                const FakeQuantGrid* outputGrid, std::vector<TensorData*> spare) {
    auto it = registry().find(n.op);
    if (it == registry().end()) throw UnsupportedError(n.op, n.name, "no kernel for this op");
    const OpEntry& entry = it->second;
    std::vector<TensorData> out(n.outputs.size());
    if (outputGrid && !outputGrid->active()) outputGrid = nullptr;
    KernelContext ctx{g, n, std::move(in), out, pool, outputGrid, std::move(spare)};
    entry.kernel(ctx);
    if (entry.appliesActivation || out.empty()) return out;
    if (!n.activation.isNone() && !out[0].isFloat()) ctx.fail("fused activation on a non-float output");
    if (out[0].isFloat()) finishFloatOutput(ctx, out[0]);
    return out;
}

void finishFloatOutput(KernelContext& c, TensorData& y) {
    if (c.node.activation.isNone() && !c.outputGrid) return;
    float* d = y.floats.data();
    const int64_t cnt = static_cast<int64_t>(y.floats.size());
    c.pool.parallelFor(cnt, 16384, [&](int64_t b, int64_t e) { applyActivationAndGrid(c.node.activation, c.outputGrid, d + b, e - b); });
}

}  // namespace exec

// ---------------------------------------------------------------- Executor

std::vector<std::string> Executor::supportedOps() {
    std::vector<std::string> ops;
    for (const auto& [name, entry] : exec::registry()) ops.push_back(name);
    return ops;
}

std::string Executor::unsupportedReason(const Graph& g, const Node& n) {
    if (!n.domain.empty() && n.domain != "ai.onnx") return "domain '" + n.domain + "' is not supported";
    const auto& reg = exec::registry();
    auto it = reg.find(n.op);
    if (it == reg.end()) return "no kernel for this op";
    for (const auto& [key, a] : n.attrs)
        if (std::holds_alternative<Attribute::SubgraphMarker>(a.value))
            return "subgraph attribute '" + key + "'";
    for (int t : n.inputs)
        if (t >= 0 && g.tensors[t].dtype == DType::Other)
            return "input '" + g.tensors[t].name + "' has an unsupported data type";
    for (int t : n.outputs)
        if (t >= 0 && g.tensors[t].dtype == DType::Other)
            return "output '" + g.tensors[t].name + "' has an unsupported data type";
    if (it->second.check) return it->second.check(g, n);
    return {};
}

Executor::Executor(const Graph& g, ExecutorOptions opts) : graph_(g) {
    for (const Node& n : g.nodes) {
        std::string why = unsupportedReason(g, n);
        if (!why.empty()) throw UnsupportedError(n.op, n.name, why);
    }
    for (int t : g.inputs)
        if (g.tensors[t].dtype == DType::Other)
            throw UnsupportedError("input", g.tensors[t].name, "unsupported data type");
    int threads = opts.threads > 0 ? opts.threads : static_cast<int>(std::thread::hardware_concurrency());
    pool_ = std::make_unique<ThreadPool>(std::max(1, threads), opts.background);
    buffers_ = std::make_unique<exec::BufferCache>();
    lastUse_.assign(g.tensors.size(), -1);
    for (size_t i = 0; i < g.nodes.size(); ++i)
        for (int t : g.nodes[i].inputs)
            if (t >= 0) lastUse_[t] = static_cast<int>(i);
}

Executor::~Executor() = default;

int Executor::threads() const { return pool_->size(); }

namespace {
void checkInput(const Tensor& t, const TensorData& v) {
    if (isFloating(t.dtype) != v.isFloat())
        throw Error("input '" + t.name + "' must be " + dtypeName(t.dtype) + ", got " + dtypeName(v.dtype));
    if (v.isFloat() ? static_cast<int64_t>(v.floats.size()) != v.elementCount()
                    : static_cast<int64_t>(v.ints.size()) != v.elementCount())
        throw Error("input '" + t.name + "' holds " +
                    std::to_string(v.isFloat() ? v.floats.size() : v.ints.size()) + " values but its shape " +
                    exec::shapeStr(v.shape) + " needs " + std::to_string(v.elementCount()));
    if (!t.shape.empty() || t.shapeKnown) {
        bool ok = t.shape.size() == v.shape.size();
        for (size_t i = 0; ok && i < t.shape.size(); ++i) ok = t.shape[i] < 0 || t.shape[i] == v.shape[i];
        if (!ok)
            throw Error("input '" + t.name + "' has shape " + exec::shapeStr(v.shape) + ", the model expects " +
                        exec::shapeStr(t.shape) + " (-1 = any)");
    }
    if (v.isFloat())
        if (const size_t i = firstNonFinite(v.floats.data(), v.floats.size()); i < v.floats.size())
            throw Error("input '" + t.name + "' contains " + (std::isnan(v.floats[i]) ? "NaN" : "Inf") +
                        " at element " + std::to_string(i));
}
}  // namespace

ExecutorRun::ExecutorRun(const Executor& ex, std::vector<TensorData> inputs, RunHooks hooks)
    : ex_(ex), hooks_(std::move(hooks)) {
    const Graph& g = ex_.graph_;
    if (inputs.size() != g.inputs.size())
        throw Error("the model takes " + std::to_string(g.inputs.size()) + " input(s), got " +
                    std::to_string(inputs.size()));
    pinOutputsAndKept();
    values_.resize(g.tensors.size());
    for (size_t i = 0; i < inputs.size(); ++i) {
        const int t = g.inputs[i];
        checkInput(g.tensors[t], inputs[i]);
        if (hooks_.onValue) hooks_.onValue(-1, t, inputs[i]);
        values_[t] = std::make_shared<TensorData>(std::move(inputs[i]));
    }
}

ExecutorRun::ExecutorRun(const ExecutorRun& from, RunHooks hooks)
    : ex_(from.ex_), hooks_(std::move(hooks)), next_(from.next_), values_(from.values_) {
    pinOutputsAndKept();
}

void ExecutorRun::pinOutputsAndKept() {
    const Graph& g = ex_.graph_;
    last_ = hooks_.lastNode < 0 ? static_cast<int>(g.nodes.size()) - 1
                                : std::min<int>(hooks_.lastNode, static_cast<int>(g.nodes.size()) - 1);
    pinned_.assign(g.tensors.size(), 0);  // kept until the end
    for (int t : g.outputs) pinned_[t] = 1;
    for (int t : hooks_.keep) {
        if (t < 0 || t >= static_cast<int>(g.tensors.size())) throw Error("keep: no tensor with id " + std::to_string(t));
        pinned_[t] = 1;
    }
}

std::unique_ptr<ExecutorRun> ExecutorRun::fork(RunHooks hooks) const {
    return std::unique_ptr<ExecutorRun>(new ExecutorRun(*this, std::move(hooks)));
}

ExecutorRun::~ExecutorRun() = default;

const TensorData* ExecutorRun::weightData(int t) const {
    if (hooks_.weightOverrides) {
        auto it = hooks_.weightOverrides->find(t);
        if (it != hooks_.weightOverrides->end()) return it->second.get();
    }
    return ex_.graph_.tensors[t].data.get();
}

void ExecutorRun::runTo(int node) {
    const Graph& g = ex_.graph_;
    for (; next_ <= std::min(node, last_); ++next_) {
        const int ni = next_;
        hooks_.cancel.throwIfCancelled();
        const Node& n = g.nodes[ni];
        std::vector<const TensorData*> in(n.inputs.size(), nullptr);
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const int t = n.inputs[k];
            if (t < 0) continue;
            if (g.tensors[t].isWeight()) {
                in[k] = weightData(t);
            } else {
                in[k] = values_[t].get();
                if (!in[k])
                    throw Error("node '" + n.name + "' reads tensor '" + g.tensors[t].name + "' before it is computed");
            }
        }
        // Inputs read last here and held only by this run: an element-wise kernel may write its
        // output into one (exec::KernelContext::reuseInput) instead of a fresh buffer.
        std::vector<TensorData*> spare(n.inputs.size(), nullptr);
        for (size_t k = 0; k < n.inputs.size(); ++k) {
            const int t = n.inputs[k];
            if (t < 0 || !in[k] || g.tensors[t].isWeight() || pinned_[t] || ex_.lastUse_[t] != ni ||
                values_[t].use_count() != 1 || std::count(n.inputs.begin(), n.inputs.end(), t) != 1)
                continue;
            spare[k] = const_cast<TensorData*>(values_[t].get());
        }
        std::vector<TensorData> out;
        {
            exec::BufferCacheScope scope(ex_.buffers_.get());
            const FakeQuantGrid* grid =
                hooks_.outputGrids && static_cast<size_t>(ni) < hooks_.outputGrids->size() ? &(*hooks_.outputGrids)[static_cast<size_t>(ni)] : nullptr;
            out = exec::runNode(g, n, std::move(in), *ex_.pool_, grid, std::move(spare));
        }
        for (size_t k = 0; k < n.outputs.size(); ++k) {
            const int t = n.outputs[k];
            if (t < 0) continue;
            if (hooks_.onValue) hooks_.onValue(ni, t, out[k]);
            if (!pinned_[t] && ex_.lastUse_[t] < 0) {  // nothing reads it
                ex_.buffers_->give(std::move(out[k].floats));
                continue;
            }
            values_[t] = std::make_shared<TensorData>(std::move(out[k]));
        }
        // Free what no later node reads.
        for (int t : n.inputs)
            if (t >= 0 && !pinned_[t] && ex_.lastUse_[t] == ni) release(t);
    }
}

void ExecutorRun::release(int t) {
    std::shared_ptr<const TensorData>& v = values_[t];
    // Only the run holds it (a graph input the caller moved in, or a node's output): its storage
    // can serve a later output.
    if (v && v.use_count() == 1) ex_.buffers_->give(std::move(const_cast<TensorData&>(*v).floats));
    v.reset();
}

RunResult ExecutorRun::finish() {
    runTo(last_);
    const Graph& g = ex_.graph_;
    RunResult r;
    r.outputs.reserve(g.outputs.size());
    // How often each tensor is still to be handed out: the last hand-out moves it.
    std::unordered_map<int, int> pending;
    for (int t : g.outputs) ++pending[t];
    for (int t : hooks_.keep) ++pending[t];
    auto fetch = [&](int t) -> TensorData {
        if (values_[t]) {
            if (--pending[t] == 0 && values_[t].use_count() == 1) {
                TensorData v = std::move(const_cast<TensorData&>(*values_[t]));
                values_[t].reset();
                return v;
            }
            return *values_[t];
        }
        if (g.tensors[t].isWeight()) return *weightData(t);
        TensorData empty;
        empty.dtype = DType::Other;
        return empty;
    };
    for (int t : g.outputs) r.outputs.push_back(fetch(t));
    for (int t : hooks_.keep) r.kept.emplace(t, fetch(t));
    values_.clear();
    return r;
}

std::unique_ptr<ExecutorRun> Executor::start(std::vector<TensorData> inputs, RunHooks hooks) const {
    return std::unique_ptr<ExecutorRun>(new ExecutorRun(*this, std::move(inputs), std::move(hooks)));
}

RunResult Executor::run(std::vector<TensorData> inputs, const RunHooks& hooks) const {
    ExecutorRun r(*this, std::move(inputs), hooks);
    return r.finish();
}

}  // namespace autosplit

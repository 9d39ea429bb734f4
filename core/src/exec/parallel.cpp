#include "autosplit/exec/parallel.h"

#include "exec_internal.h"

#include <algorithm>
#include <atomic>

namespace autosplit {

void parallelFor(const Executor& ex, int n, const std::function<void(int)>& f, const CancelToken& cancel) {
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    // One pool chunk per worker, each taking items until none are left: uneven items (samples of
    // different cost, layers of different size) balance across the workers.
    const int workers = std::min(ex.pool_->size(), n);
    ex.pool_->parallelFor(workers, 1, [&](int64_t, int64_t) {
        for (int i; !failed.load() && !cancel.cancelled() && (i = next.fetch_add(1)) < n;) {
            try {
                f(i);
            } catch (...) {
                failed = true;
                throw;  // the pool keeps the first exception and rethrows it after every chunk ended
            }
        }
    });
    cancel.throwIfCancelled();
}

void forEachSample(const Executor& pool, const Executor& serial, int n, const std::function<void(int, const Executor&)>& f,
                   const CancelToken& cancel) {
    if (pool.threads() <= 1) {
        for (int i = 0; i < n; ++i) f(i, pool);
        return;
    }
    // Every item on `serial`, so what it computes does not depend on the thread count. A single
    // item runs here rather than as a pool task, so that f may still hand work to the idle pool.
    if (n == 1) {
        cancel.throwIfCancelled();
        f(0, serial);
        return;
    }
    parallelFor(pool, n, [&](int i) { f(i, serial); }, cancel);
}

}  // namespace autosplit

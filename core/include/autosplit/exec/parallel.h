// One parallel-for for the fan-outs beside a model run (samples of an evaluation set, layers to
// quantize, nodes of an error table): the items run on an Executor's own worker pool instead of
// threads of their own, so a run and the work around it never oversubscribe the cores.
#pragma once

#include "autosplit/util/cancel.h"

#include <functional>

namespace autosplit {

class Executor;

// Calls f(i) once for every i in [0, n) on the worker pool of `ex` (Executor::threads() threads,
// the calling thread among them), handing out the items one at a time. The order in which items
// run is unspecified: f must only write what belongs to item i, and the results are then the same
// for any thread count. After the first exception no further item starts; it is rethrown once the
// started ones have finished. When `cancel` fires no further item starts and the call throws
// Cancelled. Safe to call from several threads at once; inside a task of the same pool (a nested
// call) the items run on the calling thread.
void parallelFor(const Executor& ex, int n, const std::function<void(int)>& f, const CancelToken& cancel = {});

// The one way the passes over a data set run their samples: calls f(i, on) once for every i in
// [0, n), whole items in parallel on `serial` (a single-threaded executor of the same graph) across
// the workers of `pool` when it has more than one thread (a single item too, on the calling
// thread), else in order on `pool` itself (`on` is the executor to run item i with). Either way
// every item computes what one thread computes, so a pass gives the same values on any number of
// cores however its items are chunked.
void forEachSample(const Executor& pool, const Executor& serial, int n, const std::function<void(int i, const Executor& on)>& f,
                   const CancelToken& cancel = {});

}  // namespace autosplit

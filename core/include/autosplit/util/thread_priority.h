// Background threads that yield the cores to interactive ones: the evaluator's workers while a
// window measures plans beside a slider drag (engine layer), the engine's measurement thread.
#pragma once

namespace autosplit {

// The calling thread to nice 10 (Linux, where nice is per thread; elsewhere nothing). Threads it
// creates afterwards inherit it. An unprivileged thread cannot raise it back, so only threads
// that do background work for their whole life call this.
void lowerCurrentThreadPriority();

// The calling thread's nice value (Linux; 0 elsewhere).
int currentThreadNice();

}  // namespace autosplit

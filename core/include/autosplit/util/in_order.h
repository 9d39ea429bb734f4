// Values that concurrent producers finish in any order, consumed in index order: what keeps the
// sums of sample-parallel passes those of a serial pass.
#pragma once

#include <map>
#include <mutex>
#include <utility>

namespace autosplit {

// put(i, v, consume) takes the value of index i (0, 1, 2, ...) and calls consume(j, value) for i
// and every later index already waiting, in index order, as soon as every earlier index has been
// consumed; a value whose predecessors are missing waits. Thread-safe; consume runs under the
// lock, one call at a time.
template <class T>
class InOrder {
public:
    template <class Consume>
    void put(int index, T value, Consume&& consume) {
        std::lock_guard<std::mutex> l(mutex_);
        waiting_.emplace(index, std::move(value));
        for (auto w = waiting_.find(next_); w != waiting_.end(); w = waiting_.find(next_)) {
            consume(next_, w->second);
            waiting_.erase(w);
            ++next_;
        }
    }

private:
    std::mutex mutex_;
    int next_ = 0;  // the index consumed next
    std::map<int, T> waiting_;
};

}  // namespace autosplit

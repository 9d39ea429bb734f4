#pragma once

#include <atomic>
#include <memory>

namespace autosplit {

// Shared cancellation flag: the UI keeps one end, long core work polls the other and throws
// Cancelled (errors.h) at a safe point. Cheap to copy; a default token is never cancelled.
class CancelToken {
public:
    CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const { flag_->store(true, std::memory_order_relaxed); }
    bool cancelled() const { return flag_->load(std::memory_order_relaxed); }
    void throwIfCancelled() const;

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

}  // namespace autosplit

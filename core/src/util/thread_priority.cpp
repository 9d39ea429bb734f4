#include "autosplit/util/thread_priority.h"

#ifdef __linux__
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cerrno>
#endif

namespace autosplit {

namespace {
constexpr int kBackgroundNice = 10;
}

void lowerCurrentThreadPriority() {
#ifdef __linux__
    const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
    if (currentThreadNice() < kBackgroundNice) ::setpriority(PRIO_PROCESS, tid, kBackgroundNice);
#endif
}

int currentThreadNice() {
#ifdef __linux__
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid)));
    return errno == 0 ? nice : 0;
#else
    return 0;
#endif
}

}  // namespace autosplit

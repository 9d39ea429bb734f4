#include "autosplit/util/cpu_features.h"

namespace autosplit {

bool cpuHasAvx512() {
#if defined(__x86_64__) && defined(__GNUC__)
    static const bool yes = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                            __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    return yes;
#else
    return false;
#endif
}

}  // namespace autosplit

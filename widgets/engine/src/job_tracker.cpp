#include "autosplit/engine/job_tracker.h"

#include <new>
#include <stdexcept>

namespace autosplit::engine {

QString describeException(std::exception_ptr e) {
    try {
        if (e) std::rethrow_exception(e);
    } catch (const std::bad_alloc&) {
        return QStringLiteral("out of memory");
    } catch (const std::exception& ex) {
        return QString::fromStdString(ex.what());
    } catch (...) {
        return QStringLiteral("unknown error");
    }
    return {};
}

}  // namespace autosplit::engine

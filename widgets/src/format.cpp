#include "autosplit/widgets/format.h"

#include "autosplit/util/units.h"

#include <cmath>

namespace autosplit::widgets::format {

QString bytes(int64_t b) { return QString::fromStdString(formatBytes(b)); }

QString count(double value) { return QString::fromStdString(formatCount(value)); }

QString milliseconds(double ms) {
    if (ms >= 1000) return QStringLiteral("%1 s").arg(ms / 1000, 0, 'f', 2);
    if (ms >= 100) return QStringLiteral("%1 ms").arg(ms, 0, 'f', 0);
    if (ms >= 10) return QStringLiteral("%1 ms").arg(ms, 0, 'f', 1);
    return QStringLiteral("%1 ms").arg(ms, 0, 'f', 2);
}

QString mbps(double v) {
    if (v >= 1000) return QStringLiteral("%1 Gbps").arg(v / 1000, 0, 'g', 3);
    return QStringLiteral("%1 Mbps").arg(v, 0, 'g', 3);
}

QString mebibytes(double mib) {
    if (mib >= 1024) return QStringLiteral("%1 GiB").arg(mib / 1024, 0, 'g', 3);
    if (mib < 1) return QStringLiteral("%1 KiB").arg(mib * 1024, 0, 'g', 3);
    return QStringLiteral("%1 MiB").arg(mib, 0, 'g', 3);
}

}  // namespace autosplit::widgets::format

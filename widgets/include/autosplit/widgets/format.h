// Human-readable numbers shared by every widget ("1.23 MiB", "4.5 ms", "3.1 GMAC"); sizes and
// rates follow core's one convention (autosplit/util/units.h).
#pragma once

#include <QString>

#include <cstdint>

namespace autosplit::widgets::format {

QString bytes(int64_t bytes);        // binary units: KiB, MiB, GiB (formatBytes)
QString count(double value);         // 1.2K, 3.4M, 5.6G (formatCount)
QString milliseconds(double ms);     // "0.42 ms", "12.3 ms", "1.20 s"
QString mbps(double mbps);           // "0.27 Mbps", "10 Mbps", "1 Gbps"
QString mebibytes(double mib);       // edge memory: "512 KiB", "64 MiB", "2 GiB"

}  // namespace autosplit::widgets::format

// A saved window session: model, input bindings, devices, data source, slider positions,
// selected split.
#pragma once

#include "autosplit/engine/split_estimate.h"

#include <QString>

#include <optional>

namespace autosplit::explorer {

struct SessionFile {
    static constexpr int kVersion = 1;
    QString modelPath;
    engine::InputBindings inputs;
    QString edgeDevice = QStringLiteral("eyeriss");  // built-in name or JSON path
    QString cloudDevice = QStringLiteral("tpu");
    // sliders (stored as uplink_mbps, edge_memory_mib, max_drop_percent, results_at, downlink_mbps, bits;
    // results_at and downlink_mbps optional: older sessions load with the defaults)
    engine::PlanRequest request;
    std::optional<int> pinnedSplit;  // a split the user picked; none = the fastest feasible
    // Calibration / measurement data ("data" object; absent in older files: synthetic).
    planner::DataSource data;
};

// Throws autosplit::Error naming the field on malformed input.
QByteArray sessionToJson(const SessionFile& s);
SessionFile sessionFromJson(const QByteArray& json, const QString& displayName);
void saveSession(const SessionFile& s, const QString& path);
SessionFile loadSession(const QString& path);

}  // namespace autosplit::explorer

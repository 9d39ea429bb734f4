// The constraint controls: uplink bandwidth (log slider 0.1–1000 Mbps with link presets), where
// the results are consumed (edge or cloud) and the downlink that brings them back, edge
// memory (log slider), tolerated accuracy drop (0–50 %), edge and cloud device profiles
// (built-ins plus "Load JSON…"), and the edge bit-width set. Every change is emitted at once;
// throttling is the engine's job, so a drag produces a steady stream of requests.
#pragma once

#include "autosplit/engine/split_estimate.h"
#include "autosplit/sim/device.h"

#include <QWidget>

#include <map>
#include <vector>

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QSlider;

namespace autosplit::widgets {

// Documented uplink presets (typical sustained uplink, not peak): BLE 0.27, 3G 1.1, 4G 10,
// 5G 100, Wi-Fi 200 Mbps — the spread the paper's experiments span.
struct LinkPreset {
    const char* name;
    double mbps;
};
const std::vector<LinkPreset>& linkPresets();

class ControlPanel : public QWidget {
    Q_OBJECT
public:
    explicit ControlPanel(QWidget* parent = nullptr);

    // The planner's constraints (rates in bits per second, memory in bytes) and the bit set.
    engine::PlanRequest request() const;
    void setRequest(const engine::PlanRequest& r);  // emits requestChanged once
    sim::DeviceProfile edgeDevice() const;
    sim::DeviceProfile cloudDevice() const;
    QString edgeDeviceSpec() const;   // built-in name or JSON path (for sessions)
    QString cloudDeviceSpec() const;
    // Select a built-in profile by name or load a JSON file; false (and an error dialog unless
    // quiet) when it cannot be used — the previous selection stays.
    bool setEdgeDevice(const QString& spec, bool quiet = false);
    bool setCloudDevice(const QString& spec, bool quiet = false);
    QString lastDeviceError() const { return lastDeviceError_; }

    // Slider mapping, public for tests: position 0..kSteps <-> value on a log scale.
    static constexpr int kSteps = 1000;
    static double bandwidthFromPosition(int pos);
    static int positionFromBandwidth(double mbps);
    static double memoryFromPosition(int pos);
    static int positionFromMemory(double mib);
    QSlider* bandwidthSlider() const { return bandwidth_; }
    QSlider* memorySlider() const { return memory_; }
    QSlider* thresholdSlider() const { return threshold_; }
    QComboBox* resultsAtCombo() const { return resultsAt_; }      // "Edge" / "Cloud"
    QDoubleSpinBox* downlinkField() const { return downlink_; }   // Mbps
    QCheckBox* bitCheckBox(int bits) const;

signals:
    void requestChanged(const autosplit::engine::PlanRequest& request);
    void devicesChanged(const autosplit::sim::DeviceProfile& edge, const autosplit::sim::DeviceProfile& cloud);

private:
    bool pickDevice(QComboBox* combo, std::map<QString, sim::DeviceProfile>& loaded, const QString& spec, bool quiet);
    void onDeviceActivated(QComboBox* combo, int index);
    void updateLabels();
    void emitRequest();

    QSlider* bandwidth_ = nullptr;
    QSlider* memory_ = nullptr;
    QSlider* threshold_ = nullptr;
    QLabel* bandwidthLabel_ = nullptr;
    QLabel* memoryLabel_ = nullptr;
    QLabel* thresholdLabel_ = nullptr;
    QComboBox* presets_ = nullptr;
    QComboBox* resultsAt_ = nullptr;
    QDoubleSpinBox* downlink_ = nullptr;
    QComboBox* edgeCombo_ = nullptr;
    QComboBox* cloudCombo_ = nullptr;
    std::map<int, QCheckBox*> bitBoxes_;
    std::map<QString, sim::DeviceProfile> devices_;  // spec -> profile (built-ins and loaded files)
    int edgeIndex_ = 0, cloudIndex_ = 0;             // last good selections, restored on error
    QString lastDeviceError_;
    bool blockEmit_ = false;
};

}  // namespace autosplit::widgets

#include "autosplit/widgets/control_panel.h"

#include "autosplit/widgets/format.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMessageBox>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>

#include <algorithm>
#include <cmath>

namespace autosplit::widgets {

namespace {

constexpr double kMinMbps = 0.1, kMaxMbps = 1000.0;
constexpr double kMinMiB = 0.0625, kMaxMiB = 4096.0;  // 64 KiB .. 4 GiB (Eyeriss: 4 GB off-chip)
constexpr int kThresholdSteps = 500;                  // 0.1 % steps up to 50 %
const QString kLoadJson = QStringLiteral("Load JSON…");

double fromLog(int pos, double lo, double hi) {
    const double t = double(std::clamp(pos, 0, ControlPanel::kSteps)) / ControlPanel::kSteps;
    return std::pow(10.0, std::log10(lo) + t * (std::log10(hi) - std::log10(lo)));
}

int toLog(double v, double lo, double hi) {
    v = std::clamp(v, lo, hi);
    return int(std::lround((std::log10(v) - std::log10(lo)) / (std::log10(hi) - std::log10(lo)) * ControlPanel::kSteps));
}

QSlider* makeSlider(int max) {
    auto* s = new QSlider(Qt::Horizontal);
    s->setRange(0, max);
    s->setSingleStep(std::max(1, max / 100));
    s->setPageStep(std::max(1, max / 10));
    return s;
}

}  // namespace

const std::vector<LinkPreset>& linkPresets() {
    static const std::vector<LinkPreset> presets{
        {"BLE", 0.27}, {"3G", 1.1}, {"4G LTE", 10.0}, {"5G", 100.0}, {"Wi-Fi", 200.0}};
    return presets;
}

double ControlPanel::bandwidthFromPosition(int pos) { return fromLog(pos, kMinMbps, kMaxMbps); }
int ControlPanel::positionFromBandwidth(double mbps) { return toLog(mbps, kMinMbps, kMaxMbps); }
double ControlPanel::memoryFromPosition(int pos) { return fromLog(pos, kMinMiB, kMaxMiB); }
int ControlPanel::positionFromMemory(double mib) { return toLog(mib, kMinMiB, kMaxMiB); }

ControlPanel::ControlPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);

    auto* link = new QGroupBox(tr("Link"));
    auto* linkLayout = new QFormLayout(link);
    bandwidth_ = makeSlider(kSteps);
    bandwidth_->setObjectName(QStringLiteral("bandwidthSlider"));
    bandwidth_->setToolTip(tr("Uplink bandwidth, log scale 0.1–1000 Mbps"));
    bandwidthLabel_ = new QLabel;
    bandwidthLabel_->setMinimumWidth(72);
    auto* bwRow = new QHBoxLayout;
    bwRow->addWidget(bandwidth_, 1);
    bwRow->addWidget(bandwidthLabel_);
    linkLayout->addRow(tr("Bandwidth"), bwRow);
    presets_ = new QComboBox;
    presets_->addItem(tr("Custom"));
    for (const auto& p : linkPresets()) presets_->addItem(QStringLiteral("%1 (%2)").arg(QLatin1String(p.name), format::mbps(p.mbps)), p.mbps);
    linkLayout->addRow(tr("Preset"), presets_);
    resultsAt_ = new QComboBox;
    resultsAt_->setObjectName(QStringLiteral("resultsAtCombo"));
    resultsAt_->addItem(tr("Edge"), int(planner::ResultsAt::Edge));
    resultsAt_->addItem(tr("Cloud"), int(planner::ResultsAt::Cloud));
    resultsAt_->setToolTip(tr("Where the results are consumed: graph outputs computed on the other side are sent there "
                              "(edge: back over the downlink; cloud: up the uplink) and costed"));
    linkLayout->addRow(tr("Results at"), resultsAt_);
    downlink_ = new QDoubleSpinBox;
    downlink_->setObjectName(QStringLiteral("downlinkField"));
    downlink_->setRange(kMinMbps, 10 * kMaxMbps);
    downlink_->setDecimals(2);
    downlink_->setSuffix(QStringLiteral(" Mbps"));
    downlink_->setKeyboardTracking(false);  // one request per committed value, not per keystroke
    downlink_->setToolTip(tr("Cloud-to-edge bandwidth for the results (used when they are consumed at the edge)"));
    linkLayout->addRow(tr("Downlink"), downlink_);
    layout->addWidget(link);

    auto* budget = new QGroupBox(tr("Constraints"));
    auto* budgetLayout = new QFormLayout(budget);
    memory_ = makeSlider(kSteps);
    memory_->setObjectName(QStringLiteral("memorySlider"));
    memory_->setToolTip(tr("Edge memory for weights and activations, log scale 64 KiB–4 GiB"));
    memoryLabel_ = new QLabel;
    memoryLabel_->setMinimumWidth(72);
    auto* memRow = new QHBoxLayout;
    memRow->addWidget(memory_, 1);
    memRow->addWidget(memoryLabel_);
    budgetLayout->addRow(tr("Edge memory"), memRow);
    threshold_ = makeSlider(kThresholdSteps);
    threshold_->setObjectName(QStringLiteral("thresholdSlider"));
    threshold_->setToolTip(tr("Tolerated accuracy drop, 0–50 %"));
    thresholdLabel_ = new QLabel;
    thresholdLabel_->setMinimumWidth(72);
    auto* thRow = new QHBoxLayout;
    thRow->addWidget(threshold_, 1);
    thRow->addWidget(thresholdLabel_);
    budgetLayout->addRow(tr("Max. drop"), thRow);
    auto* bitRow = new QHBoxLayout;
    for (int b : {2, 4, 6, 8}) {  // the planner's edge set B (Auto-Split §4.2)
        auto* box = new QCheckBox(QString::number(b));
        box->setToolTip(tr("Allow %1-bit weights and activations on the edge").arg(b));
        box->setChecked(b <= 8);
        bitBoxes_[b] = box;
        bitRow->addWidget(box);
        connect(box, &QCheckBox::toggled, this, [this, box](bool on) {
            if (!on && std::none_of(bitBoxes_.begin(), bitBoxes_.end(), [](const auto& kv) { return kv.second->isChecked(); })) {
                const QSignalBlocker block(box);  // the set may not become empty
                box->setChecked(true);
                return;
            }
            emitRequest();
        });
    }
    bitRow->addStretch();
    budgetLayout->addRow(tr("Edge bits"), bitRow);
    layout->addWidget(budget);

    auto* devices = new QGroupBox(tr("Devices"));
    auto* devLayout = new QFormLayout(devices);
    edgeCombo_ = new QComboBox;
    cloudCombo_ = new QComboBox;
    for (const auto& name : sim::builtinDeviceNames()) {
        const QString spec = QString::fromStdString(name);
        devices_[spec] = sim::builtinDevice(name);
        edgeCombo_->addItem(spec, spec);
        cloudCombo_->addItem(spec, spec);
    }
    edgeCombo_->addItem(kLoadJson);
    cloudCombo_->addItem(kLoadJson);
    devLayout->addRow(tr("Edge"), edgeCombo_);
    devLayout->addRow(tr("Cloud"), cloudCombo_);
    layout->addWidget(devices);
    layout->addStretch();

    {
        const QSignalBlocker b1(edgeCombo_), b2(cloudCombo_);
        const int e = edgeCombo_->findData(QStringLiteral("eyeriss"));
        const int c = cloudCombo_->findData(QStringLiteral("tpu"));
        edgeCombo_->setCurrentIndex(e >= 0 ? e : 0);
        cloudCombo_->setCurrentIndex(c >= 0 ? c : 0);
        edgeIndex_ = edgeCombo_->currentIndex();
        cloudIndex_ = cloudCombo_->currentIndex();
    }

    connect(edgeCombo_, &QComboBox::activated, this, [this](int i) { onDeviceActivated(edgeCombo_, i); });
    connect(cloudCombo_, &QComboBox::activated, this, [this](int i) { onDeviceActivated(cloudCombo_, i); });
    connect(bandwidth_, &QSlider::valueChanged, this, [this] {
        const QSignalBlocker block(presets_);
        presets_->setCurrentIndex(0);
        for (int i = 1; i < presets_->count(); ++i)
            if (positionFromBandwidth(presets_->itemData(i).toDouble()) == bandwidth_->value()) presets_->setCurrentIndex(i);
        emitRequest();
    });
    connect(presets_, &QComboBox::activated, this, [this](int i) {
        if (i > 0) bandwidth_->setValue(positionFromBandwidth(presets_->itemData(i).toDouble()));
    });
    connect(memory_, &QSlider::valueChanged, this, [this] { emitRequest(); });
    connect(resultsAt_, &QComboBox::currentIndexChanged, this, [this] {
        downlink_->setEnabled(resultsAt_->currentData().toInt() == int(planner::ResultsAt::Edge));
        emitRequest();
    });
    connect(downlink_, &QDoubleSpinBox::valueChanged, this, [this] { emitRequest(); });
    connect(threshold_, &QSlider::valueChanged, this, [this] { emitRequest(); });

    setRequest(engine::PlanRequest{});
}

QCheckBox* ControlPanel::bitCheckBox(int bits) const {
    auto it = bitBoxes_.find(bits);
    return it == bitBoxes_.end() ? nullptr : it->second;
}

engine::PlanRequest ControlPanel::request() const {
    engine::PlanRequest r;
    r.constraints.uplinkBps = bandwidthFromPosition(bandwidth_->value()) * 1e6;
    r.constraints.edgeMemoryBytes = int64_t(std::llround(memoryFromPosition(memory_->value()) * double(1 << 20)));
    r.constraints.maxDropPercent = threshold_->value() * 50.0 / kThresholdSteps;
    r.constraints.resultsAt = planner::ResultsAt(resultsAt_->currentData().toInt());
    r.constraints.downlinkBps = downlink_->value() * 1e6;
    r.bitSet.clear();
    for (const auto& [b, box] : bitBoxes_)
        if (box->isChecked()) r.bitSet.push_back(b);
    return r;
}

void ControlPanel::setRequest(const engine::PlanRequest& r) {
    blockEmit_ = true;
    bandwidth_->setValue(positionFromBandwidth(r.constraints.uplinkBps / 1e6));
    memory_->setValue(positionFromMemory(double(r.constraints.edgeMemoryBytes) / double(1 << 20)));
    threshold_->setValue(int(std::lround(std::clamp(r.constraints.maxDropPercent, 0.0, 50.0) * kThresholdSteps / 50.0)));
    resultsAt_->setCurrentIndex(std::max(0, resultsAt_->findData(int(r.constraints.resultsAt))));
    downlink_->setValue(r.constraints.downlinkBps / 1e6);
    downlink_->setEnabled(r.constraints.resultsAt == planner::ResultsAt::Edge);
    for (const auto& [b, box] : bitBoxes_) {
        const QSignalBlocker block(box);
        box->setChecked(std::find(r.bitSet.begin(), r.bitSet.end(), b) != r.bitSet.end());
    }
    if (std::none_of(bitBoxes_.begin(), bitBoxes_.end(), [](const auto& kv) { return kv.second->isChecked(); })) {
        const QSignalBlocker block(bitBoxes_[8]);
        bitBoxes_[8]->setChecked(true);
    }
    blockEmit_ = false;
    emitRequest();
}

void ControlPanel::updateLabels() {
    const engine::PlanRequest r = request();
    bandwidthLabel_->setText(format::mbps(r.constraints.uplinkBps / 1e6));
    memoryLabel_->setText(format::mebibytes(double(r.constraints.edgeMemoryBytes) / double(1 << 20)));
    thresholdLabel_->setText(QStringLiteral("%1 %").arg(r.constraints.maxDropPercent, 0, 'f', 1));
}

void ControlPanel::emitRequest() {
    updateLabels();
    if (!blockEmit_) emit requestChanged(request());
}

sim::DeviceProfile ControlPanel::edgeDevice() const { return devices_.at(edgeDeviceSpec()); }
sim::DeviceProfile ControlPanel::cloudDevice() const { return devices_.at(cloudDeviceSpec()); }
QString ControlPanel::edgeDeviceSpec() const { return edgeCombo_->itemData(edgeIndex_).toString(); }
QString ControlPanel::cloudDeviceSpec() const { return cloudCombo_->itemData(cloudIndex_).toString(); }

bool ControlPanel::pickDevice(QComboBox* combo, std::map<QString, sim::DeviceProfile>& loaded, const QString& spec,
                              bool quiet) {
    int index = combo->findData(spec);
    if (index < 0) {
        try {
            sim::DeviceProfile d = sim::loadDevice(spec.toStdString());
            loaded[spec] = d;
            const QString label = QStringLiteral("%1 (%2)").arg(QString::fromStdString(d.name), QFileInfo(spec).fileName());
            for (QComboBox* c : {edgeCombo_, cloudCombo_})
                if (c->findData(spec) < 0) c->insertItem(c->count() - 1, label, spec);
            index = combo->findData(spec);
        } catch (const std::exception& e) {
            lastDeviceError_ = QString::fromUtf8(e.what());
            if (!quiet) QMessageBox::warning(this, tr("Device profile rejected"), lastDeviceError_);
            return false;
        }
    }
    lastDeviceError_.clear();
    {
        const QSignalBlocker block(combo);
        combo->setCurrentIndex(index);
    }
    if (combo == edgeCombo_) edgeIndex_ = index;
    else cloudIndex_ = index;
    emit devicesChanged(edgeDevice(), cloudDevice());
    return true;
}

void ControlPanel::onDeviceActivated(QComboBox* combo, int index) {
    const int previous = combo == edgeCombo_ ? edgeIndex_ : cloudIndex_;
    if (combo->itemText(index) == kLoadJson) {
        const QSignalBlocker block(combo);
        combo->setCurrentIndex(previous);  // until a file is accepted
        const QString file = QFileDialog::getOpenFileName(this, tr("Load a device profile"), QString(),
                                                          tr("Device profiles (*.json);;All files (*)"));
        if (!file.isEmpty()) pickDevice(combo, devices_, file, false);
        return;
    }
    if (index == previous) return;
    if (!pickDevice(combo, devices_, combo->itemData(index).toString(), false)) {
        const QSignalBlocker block(combo);
        combo->setCurrentIndex(previous);
    }
}

bool ControlPanel::setEdgeDevice(const QString& spec, bool quiet) { return pickDevice(edgeCombo_, devices_, spec, quiet); }
bool ControlPanel::setCloudDevice(const QString& spec, bool quiet) { return pickDevice(cloudCombo_, devices_, spec, quiet); }

}  // namespace autosplit::widgets

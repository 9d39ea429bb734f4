#include "main_window.h"

#include "example_model.h"
#include "plan_export.h"

#include "autosplit/widgets/control_panel.h"
#include "autosplit/widgets/format.h"
#include "autosplit/widgets/layer_models.h"
#include "autosplit/widgets/palette.h"
#include "autosplit/widgets/plots/bit_heatmap.h"
#include "autosplit/widgets/plots/latency_breakdown_plot.h"
#include "autosplit/widgets/plots/plan_scatter.h"
#include "autosplit/widgets/plots/plot_export.h"
#include "autosplit/widgets/plots/split_profile_plot.h"

#include "autosplit/planner/plan_io.h"

#include <QAction>
#include <QApplication>
#include <QButtonGroup>
#include <QCloseEvent>
#include <QDockWidget>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QInputDialog>
#include <QLabel>
#include <QLineEdit>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QProgressBar>
#include <QSaveFile>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTableView>
#include <QToolBar>
#include <QToolButton>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace autosplit::explorer {

namespace {
constexpr int kMaxRecent = 8;
const QString kRecentKey = QStringLiteral("recentFiles");

QString splitName(const engine::ModelSession& s, int position) {
    if (position < 0) return QObject::tr("Cloud-Only");
    if (position >= s.model->layerCount() - 1) return QObject::tr("Edge-Only");
    return QObject::tr("after %1").arg(QString::fromStdString(s.model->graph.nodes[size_t(position)].name));
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    setWindowTitle(tr("Auto-Split Explorer"));
    setAcceptDrops(true);
    setDockNestingEnabled(true);

    dag_ = new widgets::DagView(this);
    dag_->setObjectName(QStringLiteral("dagView"));
    setCentralWidget(dag_);
    createDocks();
    createActions();

    modelStatus_ = new QLabel;
    loadStatus_ = new QLabel;
    progress_ = new QProgressBar;
    progress_->setRange(0, 1000);
    progress_->setMaximumWidth(180);
    progress_->setVisible(false);
    cancelButton_ = new QToolButton;
    cancelButton_->setText(tr("Cancel"));
    cancelButton_->setToolTip(tr("Cancel loading (Esc)"));
    cancelButton_->setVisible(false);
    statusBar()->addWidget(modelStatus_, 1);
    statusBar()->addPermanentWidget(loadStatus_);
    statusBar()->addPermanentWidget(progress_);
    statusBar()->addPermanentWidget(cancelButton_);
    connect(cancelButton_, &QToolButton::clicked, &engine_, &engine::Engine::cancelLoad);

    connect(&engine_, &engine::Engine::loadStarted, this, [this](quint64, const QString& path) {
        progress_->setValue(0);
        progress_->setVisible(true);
        cancelButton_->setVisible(true);
        loadStatus_->setText(tr("Loading %1…").arg(QFileInfo(path).fileName()));
    });
    connect(&engine_, &engine::Engine::loadProgress, this, [this](quint64, double f, const QString& stage) {
        progress_->setVisible(true);
        cancelButton_->setVisible(true);
        progress_->setValue(int(f * 1000));
        loadStatus_->setText(stage);
    });
    connect(&engine_, &engine::Engine::loadCancelled, this, [this](const QString& path) {
        progress_->setVisible(false);
        cancelButton_->setVisible(false);
        loadStatus_->setText(tr("Loading %1 cancelled").arg(QFileInfo(path).fileName()));
    });
    connect(&engine_, &engine::Engine::sessionAvailable, this, &MainWindow::onSessionAvailable);
    connect(&engine_, &engine::Engine::loadFailed, this, &MainWindow::onLoadFailed);
    connect(&engine_, &engine::Engine::estimateAvailable, this, &MainWindow::onEstimate);
    connect(&engine_, &engine::Engine::estimateFailed, this,
            [this](const QString& m) { planSummary_->setText(tr("<b>No plan:</b> %1").arg(m.toHtmlEscaped())); });

    connect(controls_, &widgets::ControlPanel::constraintsChanged, this, [this](const engine::Constraints& c) {
        pinnedSplit_.reset();  // new constraints: follow the planner's selection again
        pinnedSolution_.reset();
        engine_.requestEstimate(c);
    });
    connect(controls_, &widgets::ControlPanel::devicesChanged, &engine_, &engine::Engine::setDevices);
    engine_.requestEstimate(controls_->constraints());

    connect(dag_, &widgets::DagView::nodeSelected, this, &MainWindow::showNodeDetails);
    connect(dag_, &widgets::DagView::layoutStarted, this,
            [this](int n) { statusBar()->showMessage(tr("Laying out %1 nodes…").arg(n), 3000); });
    connect(dag_, &widgets::DagView::layoutReady, this, [this](double ms, const QString& method, const QString& note) {
        statusBar()->showMessage(tr("Layout: %1 in %2%3").arg(method, widgets::format::milliseconds(ms),
                                                               note.isEmpty() ? QString() : QStringLiteral(" — ") + note),
                                 6000);
    });
    connect(splitPlot_, &widgets::SplitProfilePlot::splitClicked, this, &MainWindow::selectSplit);
    connect(scatter_, &widgets::PlanScatter::pointClicked, this, &MainWindow::selectSolution);

    QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("geometry")).toByteArray());
    if (!restoreState(settings.value(QStringLiteral("windowState")).toByteArray())) resize(1500, 940);
    updateRecentMenu();
}

MainWindow::~MainWindow() = default;

void MainWindow::createDocks() {
    auto dock = [this](const QString& title, const QString& name, QWidget* w, Qt::DockWidgetArea area) {
        auto* d = new QDockWidget(title, this);
        d->setObjectName(name);
        d->setWidget(w);
        addDockWidget(area, d);
        return d;
    };

    auto* left = new QWidget;
    auto* leftLayout = new QVBoxLayout(left);
    leftLayout->setContentsMargins(4, 4, 4, 4);
    controls_ = new widgets::ControlPanel;
    leftLayout->addWidget(controls_);
    planSummary_ = new QLabel(tr("No model"));
    planSummary_->setWordWrap(true);
    planSummary_->setTextFormat(Qt::RichText);
    planSummary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    planSummary_->setFrameShape(QFrame::StyledPanel);
    planSummary_->setMargin(8);
    planSummary_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    leftLayout->addWidget(planSummary_, 1);
    left->setMinimumWidth(320);
    left->setMaximumWidth(380);
    dock(tr("Constraints"), QStringLiteral("constraintsDock"), left, Qt::LeftDockWidgetArea);

    details_ = new widgets::NodeDetailsModel(this);
    auto* detailsView = new QTableView;
    detailsView->setModel(details_);
    detailsView->horizontalHeader()->setStretchLastSection(true);
    detailsView->verticalHeader()->setVisible(false);
    detailsView->setWordWrap(true);
    detailsView->setSelectionBehavior(QAbstractItemView::SelectRows);
    detailsView->setAlternatingRowColors(true);
    connect(details_, &QAbstractItemModel::modelReset, detailsView, &QTableView::resizeRowsToContents);
    auto* detailsDock = dock(tr("Node"), QStringLiteral("detailsDock"), detailsView, Qt::RightDockWidgetArea);

    layers_ = new widgets::LayerTableModel(this);
    layerProxy_ = new QSortFilterProxyModel(this);
    layerProxy_->setSourceModel(layers_);
    layerProxy_->setSortRole(Qt::UserRole);
    layerProxy_->setFilterKeyColumn(-1);
    layerProxy_->setFilterCaseSensitivity(Qt::CaseInsensitive);
    auto* layersPane = new QWidget;
    auto* layersLayout = new QVBoxLayout(layersPane);
    layersLayout->setContentsMargins(0, 0, 0, 0);
    auto* filter = new QLineEdit;
    filter->setPlaceholderText(tr("Filter layers…"));
    filter->setClearButtonEnabled(true);
    connect(filter, &QLineEdit::textChanged, layerProxy_, &QSortFilterProxyModel::setFilterFixedString);
    layerTable_ = new QTableView;
    layerTable_->setModel(layerProxy_);
    layerTable_->setSortingEnabled(true);
    layerTable_->sortByColumn(widgets::LayerTableModel::Index, Qt::AscendingOrder);
    layerTable_->verticalHeader()->setVisible(false);
    layerTable_->verticalHeader()->setDefaultSectionSize(20);
    layerTable_->setSelectionBehavior(QAbstractItemView::SelectRows);
    layerTable_->setSelectionMode(QAbstractItemView::SingleSelection);
    layerTable_->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    connect(layerTable_, &QTableView::activated, this, [this](const QModelIndex& i) {
        dag_->selectNode(layerProxy_->mapToSource(i).row());
    });
    connect(layerTable_, &QTableView::clicked, this, [this](const QModelIndex& i) {
        dag_->selectNode(layerProxy_->mapToSource(i).row());
    });
    layersLayout->addWidget(filter);
    layersLayout->addWidget(layerTable_);
    auto* layersDock = dock(tr("Layers"), QStringLiteral("layersDock"), layersPane, Qt::RightDockWidgetArea);
    tabifyDockWidget(layersDock, detailsDock);
    detailsDock->raise();

    splitPlot_ = new widgets::SplitProfilePlot;
    breakdown_ = new widgets::LatencyBreakdownPlot;
    heatmap_ = new widgets::BitHeatmap;
    scatter_ = new widgets::PlanScatter;
    // The scatter's x: measured accuracy drop (with the threshold) or the MSE proxy (every candidate).
    auto* scatterPane = new QWidget;
    auto* scatterLayout = new QVBoxLayout(scatterPane);
    scatterLayout->setContentsMargins(0, 0, 0, 0);
    scatterLayout->setSpacing(0);
    auto* xRow = new QHBoxLayout;
    xRow->setContentsMargins(6, 2, 6, 0);
    xRow->addWidget(new QLabel(tr("x:")));
    auto* xGroup = new QButtonGroup(scatterPane);
    auto xButton = [&](const QString& text, const QString& name, widgets::PlanScatter::XAxisMode mode, const QString& tip) {
        auto* b = new QToolButton;
        b->setText(text);
        b->setObjectName(name);
        b->setToolTip(tip);
        b->setCheckable(true);
        b->setAutoRaise(true);
        b->setChecked(scatter_->xAxisMode() == mode);
        xGroup->addButton(b);
        connect(b, &QToolButton::toggled, this, [this, mode](bool on) {
            if (on) scatter_->setXAxisMode(mode);
        });
        xRow->addWidget(b);
    };
    xButton(tr("accuracy drop"), QStringLiteral("scatterXDrop"), widgets::PlanScatter::XAxisMode::AccuracyDrop,
            tr("Measured accuracy drop; candidates not yet measured are not drawn"));
    xButton(tr("MSE proxy"), QStringLiteral("scatterXMse"), widgets::PlanScatter::XAxisMode::MseProxy,
            tr("Calibration MSE proxy of every candidate (not a drop); no threshold line"));
    xRow->addStretch(1);
    scatterLayout->addLayout(xRow);
    scatterLayout->addWidget(scatter_, 1);
    auto* splitDock = dock(tr("Candidates"), QStringLiteral("scatterDock"), scatterPane, Qt::BottomDockWidgetArea);
    auto* profileDock = dock(tr("Latency by split"), QStringLiteral("splitDock"), splitPlot_, Qt::BottomDockWidgetArea);
    auto* breakdownDock = dock(tr("Latency breakdown"), QStringLiteral("breakdownDock"), breakdown_, Qt::BottomDockWidgetArea);
    auto* heatDock = dock(tr("Bit-widths"), QStringLiteral("heatmapDock"), heatmap_, Qt::BottomDockWidgetArea);
    splitDockWidget(splitDock, breakdownDock, Qt::Horizontal);
    splitDockWidget(breakdownDock, heatDock, Qt::Horizontal);
    tabifyDockWidget(splitDock, profileDock);
    splitDock->raise();
    resizeDocks({splitDock, breakdownDock, heatDock}, {5, 4, 4}, Qt::Horizontal);
    resizeDocks({splitDock}, {260}, Qt::Vertical);
    resizeDocks({detailsDock}, {330}, Qt::Horizontal);
}

void MainWindow::createActions() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    QAction* open = file->addAction(tr("&Open Model…"), this, &MainWindow::openDialog);
    open->setShortcut(QKeySequence::Open);
    QAction* example = file->addAction(tr("Open &Example"), this, &MainWindow::openExample);
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    QAction* exportPlan = file->addAction(tr("&Export Plan (JSON)…"), this, &MainWindow::exportPlanJson);
    exportPlan->setShortcut(QKeySequence(tr("Ctrl+E")));
    file->addAction(tr("Export Splits (&CSV)…"), this, &MainWindow::exportCsv);
    QMenu* charts = file->addMenu(tr("Export &Chart"));
    charts->addAction(tr("Candidates Scatter…"), this, [this] { exportPlot(scatter_, tr("candidates")); });
    charts->addAction(tr("Latency by Split…"), this, [this] { exportPlot(splitPlot_, tr("latency-by-split")); });
    charts->addAction(tr("Latency Breakdown…"), this, [this] { exportPlot(breakdown_, tr("latency-breakdown")); });
    charts->addAction(tr("Bit-width Heatmap…"), this, [this] { exportPlot(heatmap_, tr("bit-heatmap")); });
    file->addSeparator();
    QAction* openSess = file->addAction(tr("Open &Session…"), this, [this] {
        const QString p = QFileDialog::getOpenFileName(this, tr("Open session"), QString(), tr("Sessions (*.json)"));
        if (!p.isEmpty()) openSession(p);
    });
    openSess->setShortcut(QKeySequence(tr("Ctrl+Shift+O")));
    QAction* saveSess = file->addAction(tr("&Save Session…"), this, [this] {
        const QString p = QFileDialog::getSaveFileName(this, tr("Save session"), QStringLiteral("session.json"), tr("Sessions (*.json)"));
        if (!p.isEmpty()) saveSession(p);
    });
    saveSess->setShortcut(QKeySequence::Save);
    file->addSeparator();
    QAction* quit = file->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);

    viewMenu_ = menuBar()->addMenu(tr("&View"));
    QAction* fit = viewMenu_->addAction(tr("&Fit to View"), dag_, &widgets::DagView::fitToView);
    fit->setShortcut(QKeySequence(Qt::Key_F));
    QAction* zoomIn = viewMenu_->addAction(tr("Zoom &In"), dag_, &widgets::DagView::zoomIn);
    zoomIn->setShortcut(QKeySequence::ZoomIn);
    QAction* zoomOut = viewMenu_->addAction(tr("Zoom &Out"), dag_, &widgets::DagView::zoomOut);
    zoomOut->setShortcut(QKeySequence::ZoomOut);
    QAction* find = viewMenu_->addAction(tr("F&ind Node…"), this, [this] {
        findEdit_->setFocus();
        findEdit_->selectAll();
    });
    find->setShortcut(QKeySequence::Find);
    QAction* best = viewMenu_->addAction(tr("&Planner's Choice"), this, [this] { selectSplit(-2); });
    best->setShortcut(QKeySequence(tr("Ctrl+B")));
    viewMenu_->addSeparator();
    for (QDockWidget* d : findChildren<QDockWidget*>()) viewMenu_->addAction(d->toggleViewAction());

    QMenu* help = menuBar()->addMenu(tr("&Help"));
    help->addAction(tr("&About"), this, [this] {
        QMessageBox::about(this, tr("About Auto-Split Explorer"),
                           tr("<b>Auto-Split Explorer %1</b><p>Splits a DNN between an edge and a cloud accelerator "
                              "(Auto-Split, KDD 2021). Latencies come from the SCALE-Sim-style simulator or measured "
                              "profiles.</p>")
                               .arg(QCoreApplication::applicationVersion()));
    });

    QAction* cancel = new QAction(tr("Cancel Loading"), this);
    cancel->setShortcut(QKeySequence(Qt::Key_Escape));
    connect(cancel, &QAction::triggered, &engine_, &engine::Engine::cancelLoad);
    addAction(cancel);

    QToolBar* tb = addToolBar(tr("Main"));
    tb->setObjectName(QStringLiteral("mainToolBar"));
    tb->setMovable(false);
    tb->setToolButtonStyle(Qt::ToolButtonTextOnly);
    tb->addAction(open);
    tb->addAction(example);
    tb->addAction(exportPlan);
    tb->addSeparator();
    tb->addAction(fit);
    tb->addAction(zoomIn);
    tb->addAction(zoomOut);
    tb->addAction(best);
    tb->addSeparator();
    findEdit_ = new QLineEdit;
    findEdit_->setPlaceholderText(tr("Find node (Ctrl+F)"));
    findEdit_->setClearButtonEnabled(true);
    findEdit_->setMaximumWidth(240);
    connect(findEdit_, &QLineEdit::returnPressed, this, &MainWindow::findNode);
    tb->addWidget(findEdit_);
}

void MainWindow::findNode() {
    const QString text = findEdit_->text().trimmed();
    if (text.isEmpty()) return;
    if (!dag_->findNode(text)) statusBar()->showMessage(tr("No node matches '%1'").arg(text), 4000);
}

void MainWindow::openDialog() {
    const QString dir = session_ ? QFileInfo(session_->model->path).absolutePath() : QString();
    const QString p = QFileDialog::getOpenFileName(this, tr("Open ONNX model"), dir, tr("ONNX models (*.onnx);;All files (*)"));
    if (!p.isEmpty()) openModel(p);
}

void MainWindow::openModel(const QString& path, const engine::InputBindings& inputs) {
    engine::LoadRequest r;
    r.path = path;
    r.inputShapes = inputs;
    r.edgeDevice = controls_->edgeDevice();
    r.cloudDevice = controls_->cloudDevice();
    engine_.loadModel(r);
}

void MainWindow::openExample() {
    const ExampleModel ex = findExampleModel();
    if (ex.path.isEmpty()) {
        showError(tr("No example model"), tr("The bundled example model was not found (build the example_model target "
                                             "or install the package)."));
        return;
    }
    openModel(ex.path, ex.inputs);
}

void MainWindow::onSessionAvailable(std::shared_ptr<const engine::ModelSession> s) {
    const bool busy = engine_.isLoading() || engine_.isPlanning();
    progress_->setVisible(busy);
    cancelButton_->setVisible(busy);
    const auto& t = s->timings;
    QString status = tr("Loaded in %1 (import %2, optimize %3, simulate %4)")
                         .arg(widgets::format::milliseconds(t.importMs + t.optimizeMs + t.analyzeMs + t.splitsMs + t.latencyMs),
                              widgets::format::milliseconds(t.importMs), widgets::format::milliseconds(t.optimizeMs),
                              widgets::format::milliseconds(t.latencyMs));
    if (s->planning)
        status += tr("; planner ready (calibration %1, context %2)")
                      .arg(t.calibrationMs > 0 ? widgets::format::milliseconds(t.calibrationMs) : tr("cached"),
                           widgets::format::milliseconds(t.planningMs));
    if (!busy) loadStatus_->setText(status);
    const bool newModel = !session_ || session_->model != s->model;
    session_ = std::move(s);
    shown_.reset();
    if (newModel) {
        pinnedSplit_ = pendingPin_;
        pendingPin_.reset();
        dag_->setModel(session_->model);
        addRecent(session_->model->path);
    }
    layers_->setSession(session_);
    const auto& m = *session_->model;
    modelStatus_->setText(tr("<b>%1</b> — %2 layers (%3 in the file), %4 parameters, %5 MACs · edge %6 · cloud %7")
                              .arg(m.displayName.toHtmlEscaped())
                              .arg(m.layerCount())
                              .arg(m.importReport.nodesInFile)
                              .arg(widgets::format::count(double(m.analysis.parameters)),
                                   widgets::format::count(double(m.analysis.macs)),
                                   QString::fromStdString(session_->devices.edge.name),
                                   QString::fromStdString(session_->devices.cloud.name)));
    setWindowTitle(tr("%1 — Auto-Split Explorer").arg(m.displayName));
    if (!session_->planningError.isEmpty())
        statusBar()->showMessage(tr("Planner unavailable for this model: %1 (showing uniform-bit splits)").arg(session_->planningError), 15000);
}

void MainWindow::onLoadFailed(const QString& path, const QString& message, engine::LoadErrorKind kind) {
    progress_->setVisible(false);
    cancelButton_->setVisible(false);
    loadStatus_->setText(tr("Could not open %1").arg(QFileInfo(path).fileName()));
    if (kind == engine::LoadErrorKind::Shape) {
        // Symbolic input dims (PP-OCR, detection models): ask for a binding, keep what is open.
        auto* dlg = new QInputDialog(this);
        dlg->setAttribute(Qt::WA_DeleteOnClose);
        dlg->setWindowTitle(tr("Bind input dimensions"));
        dlg->setLabelText(tr("%1\n\nSome shapes stay unknown. Bind the model's inputs (NAME=DIMS, comma separated), "
                             "e.g. x=1x3x640x640:")
                              .arg(message));
        dlg->setTextValue(QStringLiteral("x=1x3x640x640"));
        connect(dlg, &QInputDialog::textValueSelected, this, [this, path](const QString& text) {
            try {
                openModel(path, engine::parseBindings(text));
            } catch (const std::exception& e) {
                showError(tr("Invalid input binding"), QString::fromUtf8(e.what()));
            }
        });
        lastError_ = message;
        dlg->open();
        emit errorShown(message);
        return;
    }
    showError(tr("Cannot open model"), message);
}

void MainWindow::showError(const QString& title, const QString& message) {
    lastError_ = message;
    auto* box = new QMessageBox(QMessageBox::Warning, title, message, QMessageBox::Ok, this);
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->setObjectName(QStringLiteral("errorDialog"));
    box->open();  // window-modal, does not block the event loop (or a test)
    emit errorShown(message);
}

void MainWindow::onEstimate(std::shared_ptr<const engine::SplitEstimates> e) {
    if (!session_) return;
    shown_ = std::move(e);
    showPlan();
}

void MainWindow::selectSplit(int position) {
    pinnedSolution_.reset();
    if (position == -2) pinnedSplit_.reset();
    else pinnedSplit_ = position;
    showPlan();
}

void MainWindow::selectSolution(int solution) {
    pinnedSplit_.reset();
    pinnedSolution_ = solution;
    showPlan();
}

widgets::DagPlacement MainWindow::placementFor(int position) const {
    widgets::DagPlacement p;
    p.splitPosition = position;
    if (shown_) {
        p.edgeBits = shown_->edgeBits;
        p.cloudBits = shown_->cloudBits;
        p.inputBits = shown_->constraints.inputBits;
    }
    return p;
}

void MainWindow::showPlan() {
    if (!session_ || !shown_ || shown_->splits.size() != size_t(session_->model->layerCount()) + 1) return;
    if (!pinnedSplit_ && showPlannerPlan()) return;
    const engine::SplitEstimates& e = *shown_;
    const int n = session_->model->layerCount();
    int pos = e.best >= -1 ? e.best : -1;
    if (pinnedSplit_ && *pinnedSplit_ >= -1 && *pinnedSplit_ < n) pos = *pinnedSplit_;
    selectedSplit_ = pos;
    shownPlanName_ = QStringLiteral("split");
    const widgets::DagPlacement placement = placementFor(pos);
    shownPlacement_ = placement;
    dag_->setPlacement(placement);
    layers_->setPlacement(placement);
    if (details_->node() >= 0) details_->show(session_, placement, details_->node());
    scatter_->setData({}, {}, {}, -1, std::nan(""));

    const engine::SplitCost& sel = e.at(pos);
    const QString name = splitName(*session_, pos);
    std::vector<widgets::SplitPoint> points;
    points.reserve(e.splits.size());
    for (const auto& c : e.splits) points.push_back({c.position, c.totalUs() / 1000.0, c.fitsMemory});
    splitPlot_->setPoints(points, pos, name);

    std::vector<widgets::BreakdownRow> rows;
    auto row = [](const QString& label, const engine::SplitCost& c, bool hl) {
        return widgets::BreakdownRow{label, c.edgeUs / 1000.0, c.transmitUs / 1000.0, c.cloudUs / 1000.0, hl};
    };
    rows.push_back(row(pinnedSplit_ ? tr("Selected") : tr("Fastest split"), sel, true));
    if (pinnedSplit_ && e.best >= -1 && e.best != pos) rows.push_back(row(tr("Fastest split"), e.at(e.best), false));
    rows.push_back(row(tr("Cloud-Only"), e.cloudOnly(), false));
    rows.push_back(row(tr("Edge-Only w%1a%1").arg(e.edgeBits), e.edgeOnly(), false));
    breakdown_->setRows(rows);

    std::vector<widgets::LayerBits> bits;
    bits.reserve(size_t(n));
    for (int i = 0; i < n; ++i) {
        const LayerInfo& L = session_->model->analysis.layers[size_t(i)];
        bits.push_back({QString::fromStdString(L.name), L.hasWeights() ? e.edgeBits : 0, e.edgeBits, i > pos});
    }
    heatmap_->setLayers(bits, pos);

    using widgets::format::milliseconds;
    const double cloudMs = e.cloudOnly().totalUs() / 1000.0;
    const auto& split = session_->model->split(pos);
    QString summary =
        tr("<p style='font-size:11pt'><b>%1</b>%2</p>"
           "<table cellspacing=3>"
           "<tr><td>End-to-end</td><td align=right><b>%3</b></td><td>(%4 of Cloud-Only)</td></tr>"
           "<tr><td><span style='color:%5'>■</span> Edge</td><td align=right>%6</td><td>%7 layers, w%8a%8</td></tr>"
           "<tr><td><span style='color:%9'>■</span> Transmit</td><td align=right>%10</td><td>%11 in %12 tensor(s)</td></tr>"
           "<tr><td><span style='color:%13'>■</span> Cloud</td><td align=right>%14</td><td>%15 layers, fp%16</td></tr>"
           "<tr><td>Edge memory</td><td align=right>%17</td><td>%18</td></tr>"
           "</table>")
            .arg(name.toHtmlEscaped(), pinnedSplit_ ? tr(" (picked)") : QString())
            .arg(milliseconds(sel.totalUs() / 1000.0))
            .arg(QStringLiteral("%1 %").arg(cloudMs > 0 ? 100.0 * sel.totalUs() / 1000.0 / cloudMs : 0.0, 0, 'f', 0))
            .arg(widgets::palette::edgeSeries().name(), milliseconds(sel.edgeUs / 1000.0))
            .arg(pos + 1)
            .arg(e.edgeBits)
            .arg(widgets::palette::transmitSeries().name(), milliseconds(sel.transmitUs / 1000.0),
                 widgets::format::bytes((sel.transmittedBits + 7) / 8))
            .arg(split.transmitted.size())
            .arg(widgets::palette::cloudSeries().name(), milliseconds(sel.cloudUs / 1000.0))
            .arg(n - pos - 1)
            .arg(e.cloudBits)
            .arg(widgets::format::bytes((sel.edgeMemoryBits + 7) / 8),
                 sel.fitsMemory ? tr("fits") : tr("<span style='color:#d62728'>exceeds the budget</span>"));
    if (e.best == -2) summary += tr("<p style='color:#d62728'>No split fits the edge memory: showing Cloud-Only.</p>");
    summary += tr("<p style='color:#667'>Uniform edge bits (highest allowed ≤ 8), cloud at %1 bit; latencies simulated on "
                  "%2 / %3. Accuracy-aware mixed precision arrives with the planner.</p>")
                   .arg(e.cloudBits)
                   .arg(QString::fromStdString(session_->devices.edge.name), QString::fromStdString(session_->devices.cloud.name));
    planSummary_->setText(summary);
    emit planShown(pos);
}

bool MainWindow::showPlannerPlan() {
    if (!shown_->plans || !session_->planning) return false;
    const planner::PlanSet& ps = *shown_->plans;
    const planner::PlanningContext& ctx = *session_->planning->context;
    const int n = session_->model->layerCount();
    if (ctx.nodeCount() != n) return false;
    planner::Plan plan = ps.selected;
    if (pinnedSolution_ && *pinnedSolution_ >= 0 && *pinnedSolution_ < int(ctx.solutions().size()))
        plan = planner::planFor(ctx, *pinnedSolution_, ps.constraints, "picked");
    if (plan.splitPosition < -1 || plan.splitPosition >= n) return false;  // a non-prefix cut is not drawn as one
    const int pos = plan.splitPosition;
    selectedSplit_ = pos;
    shownPlanName_ = QString::fromStdString(plan.name);

    widgets::DagPlacement placement;
    placement.splitPosition = pos;
    placement.weightBits = plan.weightBits;
    placement.activationBits = plan.activationBits;
    placement.edgeBits = 8;
    placement.cloudBits = ctx.cloudBits();
    placement.inputBits = ctx.inputBits();
    shownPlacement_ = placement;
    dag_->setPlacement(placement);
    layers_->setPlacement(placement);
    if (details_->node() >= 0) details_->show(session_, placement, details_->node());

    // Scatter: every candidate that fits the edge memory, the Pareto front, the baselines.
    const planner::Plan* cloud = ps.baseline("cloud-only");
    const double cloudMs = cloud && cloud->latency.totalMs > 0 ? cloud->latency.totalMs : 1.0;
    // x is the measured drop where the planner's cache has one; plans that quantize nothing
    // (float16 everywhere) have drop 0 by construction; the rest have only the MSE proxy.
    auto allFloat16 = [](const auto& wb, const auto& ab, const std::vector<int>& edgeNodes) {
        for (int i : edgeNodes) {
            const int w = i < int(wb.size()) ? wb[size_t(i)] : 0;
            const int a = i < int(ab.size()) ? ab[size_t(i)] : 0;
            if ((w != 0 && w < 16) || a < 16) return false;
        }
        return true;
    };
    auto prefix = [](int split) {
        std::vector<int> v;
        for (int i = 0; i <= split; ++i) v.push_back(i);
        return v;
    };
    std::vector<widgets::ScatterPoint> points;
    points.reserve(ps.candidates.size());
    int samples = 0;
    for (const auto& c : ps.candidates) {
        widgets::ScatterPoint p;
        p.mse = c.mse;
        p.normLatency = c.totalMs / cloudMs;
        p.id = c.solution;
        if (const auto m = ctx.accuracy(c.solution)) {
            p.drop = m->drop;
            samples = std::max(samples, m->samples);
        }
        const planner::Solution& sol = ctx.solutions()[size_t(c.solution)];
        // Only Cloud-Only and the baselines' w = a = 16 plans can be float16 (the grid's bits are <= 8).
        p.float16 = sol.split < 0 || (sol.forBaseline && allFloat16(sol.weightBits, sol.activationBits, prefix(sol.split)));
        points.push_back(p);
    }
    std::vector<int> pareto;
    for (int i : ps.pareto) pareto.push_back(ps.candidates[size_t(i)].solution);
    std::vector<widgets::ScatterBaseline> baselines;
    std::vector<widgets::BreakdownRow> rows;
    rows.push_back({tr("%1 (selected)").arg(QString::fromStdString(plan.name)), plan.latency.edgeMs, plan.latency.transmitMs,
                    plan.latency.cloudMs, true});
    for (const auto& b : ps.baselines) {
        if (!b.available) continue;
        widgets::ScatterBaseline sb;
        sb.label = QString::fromStdString(b.name);
        sb.mse = b.mseProxy;
        sb.normLatency = b.latency.totalMs / cloudMs;
        if (b.accuracy) sb.drop = b.accuracy->drop;
        sb.float16 = b.kind == planner::PlanKind::CloudOnly ||
                     allFloat16(b.weightBits, b.activationBits, b.splitPosition == -2 ? b.edgeNodes : prefix(b.splitPosition));
        baselines.push_back(sb);
        rows.push_back({QString::fromStdString(b.name) + (b.fitsMemory ? QString() : tr(" (too big)")), b.latency.edgeMs,
                        b.latency.transmitMs, b.latency.cloudMs, false});
    }
    scatter_->setData(points, pareto, baselines, plan.solution, ps.constraints.maxDropPercent, samples);
    breakdown_->setRows(rows);

    std::vector<widgets::LayerBits> bits;
    bits.reserve(size_t(n));
    auto at = [](const std::vector<int>& v, int i) { return i < int(v.size()) ? v[size_t(i)] : 0; };
    for (int i = 0; i < n; ++i) {
        const LayerInfo& L = session_->model->analysis.layers[size_t(i)];
        bits.push_back({QString::fromStdString(L.name), L.hasWeights() ? at(plan.weightBits, i) : 0,
                        std::max(at(plan.activationBits, i), 1), i > pos});
    }
    heatmap_->setLayers(bits, pos);

    const engine::SplitEstimates& e = *shown_;
    std::vector<widgets::SplitPoint> profile;
    profile.reserve(e.splits.size());
    for (const auto& c : e.splits) profile.push_back({c.position, c.totalUs() / 1000.0, c.fitsMemory});
    splitPlot_->setPoints(profile, pos, splitName(*session_, pos));

    using widgets::format::milliseconds;
    QString accuracy;
    if (plan.accuracy)
        accuracy = tr("drop <b>%1 %</b> (%2, measured on %3 inputs)")
                       .arg(plan.accuracy->drop, 0, 'f', 3)
                       .arg(QString::fromStdString(plan.accuracy->metric))
                       .arg(plan.accuracy->samples);
    else if (plan.kind == planner::PlanKind::CloudOnly)
        accuracy = tr("float16 cloud (no drop measured)");
    else
        accuracy = tr("MSE proxy %1 — %2").arg(plan.mseProxy, 0, 'g', 3).arg(e.measured ? tr("not measured") : tr("measuring…"));
    QString wbits, abits;
    {
        std::map<int, int> wh, ah;
        for (int i = 0; i <= pos && i < n; ++i) {
            if (session_->model->analysis.layers[size_t(i)].hasWeights()) ++wh[at(plan.weightBits, i)];
            ++ah[at(plan.activationBits, i)];
        }
        for (const auto& [b, k] : wh) wbits += QStringLiteral("%1×%2b ").arg(k).arg(b);
        for (const auto& [b, k] : ah) abits += QStringLiteral("%1×%2b ").arg(k).arg(b);
    }
    const int64_t sentBits = [&] {
        int64_t t = 0;
        for (const auto& sent : plan.transmitted) t += sent.elements * sent.bits;
        return t;
    }();
    QString summary =
        tr("<p style='font-size:11pt'><b>%1</b> · %2</p>"
           "<table cellspacing=3>"
           "<tr><td>End-to-end</td><td align=right><b>%3</b></td><td>(%4 of Cloud-Only)</td></tr>"
           "<tr><td><span style='color:%5'>■</span> Edge</td><td align=right>%6</td><td>%7 layers (%8)</td></tr>"
           "<tr><td><span style='color:%9'>■</span> Transmit</td><td align=right>%10</td><td>%11 in %12 tensor(s)</td></tr>"
           "<tr><td><span style='color:%13'>■</span> Cloud</td><td align=right>%14</td><td>%15 layers, fp%16 (%17)</td></tr>"
           "<tr><td>Edge memory</td><td align=right>%18</td><td>%19</td></tr>"
           "</table>")
            .arg(QString::fromStdString(plan.name).toHtmlEscaped(), splitName(*session_, pos).toHtmlEscaped())
            .arg(milliseconds(plan.latency.totalMs))
            .arg(QStringLiteral("%1 %").arg(100.0 * plan.latency.totalMs / cloudMs, 0, 'f', 0))
            .arg(widgets::palette::edgeSeries().name(), milliseconds(plan.latency.edgeMs))
            .arg(pos + 1)
            .arg(QString::fromStdString(plan.latency.edgeOrigin))
            .arg(widgets::palette::transmitSeries().name(), milliseconds(plan.latency.transmitMs),
                 widgets::format::bytes((sentBits + 7) / 8))
            .arg(plan.transmitted.size())
            .arg(widgets::palette::cloudSeries().name(), milliseconds(plan.latency.cloudMs))
            .arg(n - pos - 1)
            .arg(ctx.cloudBits())
            .arg(QString::fromStdString(plan.latency.cloudOrigin))
            .arg(widgets::format::bytes(plan.edgeWeightBytes + plan.edgeActivationBytes),
                 plan.fitsMemory ? tr("fits") : tr("<span style='color:#d62728'>exceeds the budget</span>"));
    summary += tr("<p>Accuracy: %1</p>").arg(accuracy);
    if (pos >= 0) summary += tr("<p style='color:#445'>Weights: %1<br>Activations: %2</p>").arg(wbits, abits);
    summary += tr("<p style='color:#667'>%1<br>%2 candidates fit, %3 on the Pareto front; %4. Accuracy on %5.</p>")
                   .arg(QString::fromStdString(ps.reason).toHtmlEscaped())
                   .arg(ps.candidates.size())
                   .arg(ps.pareto.size())
                   .arg(e.measured ? tr("%1 measurements in %2").arg(ps.measured).arg(milliseconds(e.replanMs))
                                   : tr("re-planned in %1").arg(milliseconds(e.replanMs)))
                   .arg(QString::fromStdString(session_->planning->dataDescription).toHtmlEscaped());
    planSummary_->setText(summary);
    emit planShown(pos);
    return true;
}

void MainWindow::showNodeDetails(int node) {
    details_->show(session_, shownPlacement_, node);
    if (node >= 0)
        for (QDockWidget* d : findChildren<QDockWidget*>())
            if (d->objectName() == QLatin1String("detailsDock")) d->raise();
}

void MainWindow::exportPlanJson() {
    if (!session_ || !shown_) return showError(tr("Nothing to export"), tr("Open a model first."));
    if (shown_->plans && session_->planning) {  // the planner's plan.json, as `autosplit plan --out`
        const QString p = QFileDialog::getSaveFileName(
            this, tr("Export plan"), QFileInfo(session_->model->path).completeBaseName() + QStringLiteral(".plan.json"),
            tr("JSON (*.json)"));
        if (p.isEmpty()) return;
        QSaveFile f(p);
        const std::string text = planner::planToJson(*session_->planning->context, *shown_->plans);
        if (!f.open(QIODevice::WriteOnly) || f.write(text.data(), qint64(text.size())) < 0 || !f.commit())
            showError(tr("Export failed"), tr("%1: %2").arg(p, f.errorString()));
        return;
    }
    const QString p = QFileDialog::getSaveFileName(this, tr("Export plan"), QFileInfo(session_->model->path).completeBaseName() +
                                                                                QStringLiteral(".plan.json"),
                                                   tr("JSON (*.json)"));
    if (p.isEmpty()) return;
    QSaveFile f(p);
    if (!f.open(QIODevice::WriteOnly) || f.write(estimateJson(*session_, *shown_, selectedSplit_)) < 0 || !f.commit())
        showError(tr("Export failed"), tr("%1: %2").arg(p, f.errorString()));
}

void MainWindow::exportCsv() {
    if (!session_ || !shown_) return showError(tr("Nothing to export"), tr("Open a model first."));
    const QString p = QFileDialog::getSaveFileName(this, tr("Export splits"), QFileInfo(session_->model->path).completeBaseName() +
                                                                                  QStringLiteral(".splits.csv"),
                                                   tr("CSV (*.csv)"));
    if (p.isEmpty()) return;
    QSaveFile f(p);
    if (!f.open(QIODevice::WriteOnly) || f.write(splitsCsv(*session_, *shown_)) < 0 || !f.commit())
        showError(tr("Export failed"), tr("%1: %2").arg(p, f.errorString()));
}

void MainWindow::exportPlot(QWidget* plot, const QString& what) {
    const QString p = QFileDialog::getSaveFileName(this, tr("Export chart"), what + QStringLiteral(".png"),
                                                   widgets::plotExportFilters().join(QStringLiteral(";;")));
    if (p.isEmpty()) return;
    QString error;
    if (!widgets::exportPlot(static_cast<QCustomPlot*>(plot), p, &error)) showError(tr("Export failed"), error);
}

SessionFile MainWindow::currentSession() const {
    SessionFile s;
    if (session_) {
        s.modelPath = session_->model->path;
        s.inputs = session_->model->inputShapes;
    }
    s.edgeDevice = controls_->edgeDeviceSpec();
    s.cloudDevice = controls_->cloudDeviceSpec();
    s.constraints = controls_->constraints();
    s.pinnedSplit = pinnedSplit_;
    return s;
}

bool MainWindow::saveSession(const QString& path) {
    try {
        explorer::saveSession(currentSession(), path);
        addRecent(path);
        return true;
    } catch (const std::exception& e) {
        showError(tr("Cannot save session"), QString::fromUtf8(e.what()));
        return false;
    }
}

bool MainWindow::openSession(const QString& path) {
    SessionFile s;
    try {
        s = loadSession(path);
    } catch (const std::exception& e) {
        showError(tr("Cannot open session"), QString::fromUtf8(e.what()));
        return false;
    }
    // Devices first (a bad JSON path is reported and the current device stays).
    if (!controls_->setEdgeDevice(s.edgeDevice, true) || !controls_->setCloudDevice(s.cloudDevice, true))
        showError(tr("Device profile rejected"), controls_->lastDeviceError());
    controls_->setConstraints(s.constraints);
    pendingPin_ = s.pinnedSplit;
    if (session_ && session_->model->path == QFileInfo(s.modelPath).absoluteFilePath() && session_->model->inputShapes == s.inputs) {
        pinnedSplit_ = pendingPin_;
        pendingPin_.reset();
        showPlan();
    } else {
        openModel(s.modelPath, s.inputs);
    }
    addRecent(path);
    return true;
}

void MainWindow::addRecent(const QString& path) {
    QSettings settings;
    QStringList files = settings.value(kRecentKey).toStringList();
    files.removeAll(path);
    files.prepend(path);
    while (files.size() > kMaxRecent) files.removeLast();
    settings.setValue(kRecentKey, files);
    updateRecentMenu();
}

void MainWindow::updateRecentMenu() {
    recentMenu_->clear();
    const QStringList files = QSettings().value(kRecentKey).toStringList();
    for (const QString& f : files) {
        recentMenu_->addAction(QFileInfo(f).fileName() + QStringLiteral("  —  ") + QFileInfo(f).absolutePath(), this, [this, f] {
            if (f.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) openSession(f);
            else openModel(f);
        });
    }
    recentMenu_->setEnabled(!files.isEmpty());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    for (const QUrl& u : event->mimeData()->urls())
        if (u.isLocalFile()) return event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    for (const QUrl& u : event->mimeData()->urls()) {
        if (!u.isLocalFile()) continue;
        const QString f = u.toLocalFile();
        if (f.endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) openSession(f);
        else openModel(f);
        event->acceptProposedAction();
        return;
    }
}

void MainWindow::closeEvent(QCloseEvent* event) {
    QSettings settings;
    settings.setValue(QStringLiteral("geometry"), saveGeometry());
    settings.setValue(QStringLiteral("windowState"), saveState());
    QMainWindow::closeEvent(event);
}

}  // namespace autosplit::explorer

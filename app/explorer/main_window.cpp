#include "main_window.h"

#include "data_source_dialog.h"

#include "example_model.h"
#include "plan_export.h"
#include "shown_plan.h"

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
#include <QScrollArea>
#include <QVBoxLayout>

#include <cmath>
#include <map>

namespace autosplit::explorer {

namespace {
constexpr int kMaxRecent = 8;
const QString kRecentKey = QStringLiteral("recentFiles");

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
    connect(&engine_, &engine::Engine::exportFinished, this, [this](const QString& dir, const QString& summary) {
        statusBar()->showMessage(tr("Exported %1: %2").arg(dir, summary.section('\n', -1)), 15000);
        auto* box = new QMessageBox(QMessageBox::Information, tr("Deployment exported"),
                                    tr("Wrote edge.onnx, cloud.onnx and manifest.json to %1.").arg(dir), QMessageBox::Ok, this);
        box->setObjectName(QStringLiteral("exportDialog"));
        box->setInformativeText(summary);
        box->setAttribute(Qt::WA_DeleteOnClose);
        box->open();
        emit deploymentExported(dir, summary);
    });
    connect(&engine_, &engine::Engine::exportFailed, this, [this](const QString& dir, const QString& m) {
        showError(tr("Export failed"), tr("%1: %2").arg(dir, m));
    });
    connect(&engine_, &engine::Engine::estimateFailed, this,
            [this](const QString& m) { planSummary_->setText(tr("<b>No plan:</b> %1").arg(m.toHtmlEscaped())); });

    connect(controls_, &widgets::ControlPanel::requestChanged, this, [this](const engine::PlanRequest& r) {
        pinnedSplit_.reset();  // new constraints: follow the planner's selection again
        pinnedSolution_.reset();
        engine_.requestEstimate(r);
    });
    connect(controls_, &widgets::ControlPanel::devicesChanged, &engine_, &engine::Engine::setDevices);
    engine_.requestEstimate(controls_->request());

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
    // The controls keep their height (a squeezed form cuts its combo boxes); the plan summary
    // below takes what is left and scrolls.
    controls_->setSizePolicy(QSizePolicy::Preferred, QSizePolicy::Fixed);
    leftLayout->addWidget(controls_);
    planSummary_ = new QLabel(tr("No model"));
    planSummary_->setWordWrap(true);
    planSummary_->setTextFormat(Qt::RichText);
    planSummary_->setTextInteractionFlags(Qt::TextSelectableByMouse);
    planSummary_->setFrameShape(QFrame::StyledPanel);
    planSummary_->setMargin(8);
    planSummary_->setAlignment(Qt::AlignTop | Qt::AlignLeft);
    auto* summaryScroll = new QScrollArea;
    summaryScroll->setObjectName(QStringLiteral("planSummaryScroll"));
    summaryScroll->setWidget(planSummary_);
    summaryScroll->setWidgetResizable(true);
    summaryScroll->setFrameShape(QFrame::NoFrame);
    summaryScroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    leftLayout->addWidget(summaryScroll, 1);
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
    QAction* data = file->addAction(tr("&Data Source…"), this, &MainWindow::openDataSourceDialog);
    data->setObjectName(QStringLiteral("dataSourceAction"));
    data->setShortcut(QKeySequence(tr("Ctrl+D")));
    recentMenu_ = file->addMenu(tr("Open &Recent"));
    file->addSeparator();
    QAction* exportPlan = file->addAction(tr("&Export Plan (JSON)…"), this, &MainWindow::exportPlanJson);
    exportPlan->setShortcut(QKeySequence(tr("Ctrl+E")));
    file->addAction(tr("Export Splits (&CSV)…"), this, &MainWindow::exportCsv);
    QAction* deployment = file->addAction(tr("Export &Deployment (edge/cloud ONNX)…"), this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Export the plan's edge and cloud models into"));
        if (!dir.isEmpty()) exportDeployment(dir);
    });
    deployment->setObjectName(QStringLiteral("exportDeploymentAction"));
    deployment->setShortcut(QKeySequence(tr("Ctrl+Shift+E")));
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

void MainWindow::openModel(const QString& path, const engine::InputBindings& inputs, const planner::DataSource& data) {
    engine::LoadRequest r;
    r.path = path;
    r.inputShapes = inputs;
    r.data = data;
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
    openModel(ex.path, ex.inputs, ex.data);
}

planner::DataSource MainWindow::dataSource() const { return session_ ? session_->data : planner::DataSource{}; }

void MainWindow::setDataSource(const planner::DataSource& data) {
    if (!session_ && !engine_.isLoading()) {
        showError(tr("No model"), tr("Open a model first; its planner then calibrates and measures on this data."));
        return;
    }
    engine_.setDataSource(data);
}

void MainWindow::openDataSourceDialog() {
    auto* dlg = new DataSourceDialog(dataSource(), this);
    dlg->setAttribute(Qt::WA_DeleteOnClose);
    connect(dlg, &QDialog::accepted, this, [this, dlg] { setDataSource(dlg->source()); });
    dlg->open();
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
    modelStatus_->setText(modelStatus_->text() + tr(" · data: %1%2")
                                                     .arg(describeDataSource(session_->data).toHtmlEscaped(),
                                                          session_->data.folder.empty()
                                                              ? tr(" <b style='color:#c83c28'>(synthetic)</b>")
                                                              : QString()));
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

void MainWindow::showPlan() {
    if (!session_ || !shown_ || shown_->splits.size() != size_t(session_->model->layerCount()) + 1) return;
    std::optional<ShownPlan> shown;
    if (!pinnedSplit_) shown = plannerShownPlan(*session_, *shown_, pinnedSolution_);
    if (!shown) shown = uniformShownPlan(*session_, *shown_, pinnedSplit_);
    const planner::Plan& plan = shown->plan;
    const int pos = plan.splitPosition;
    selectedSplit_ = pos;
    shownPlanName_ = QString::fromStdString(plan.name);
    shownPlacement_ = placementOf(*session_, plan);
    dag_->setPlacement(shownPlacement_);
    layers_->setPlacement(shownPlacement_);
    if (details_->node() >= 0) details_->show(session_, shownPlacement_, details_->node());
    scatter_->setData(shown->points, shown->pareto, shown->baselines, shown->fromPlanner ? plan.solution : -1,
                      shown->fromPlanner ? shown_->request.constraints.maxDropPercent : std::nan(""), shown->measuredSamples);
    scatter_->setDataOrigin(dataOrigin(*session_), session_->data.folder.empty());
    breakdown_->setRows(shown->rows);
    heatmap_->setLayers(layerBitsOf(*session_, plan), pos);
    splitPlot_->setPoints(splitProfile(*shown_), pos, splitName(*session_, pos));
    planSummary_->setText(summaryHtml(*session_, *shown_, *shown));
    emit planShown(pos);
}

void MainWindow::showNodeDetails(int node) {
    details_->show(session_, shownPlacement_, node);
    if (node >= 0)
        for (QDockWidget* d : findChildren<QDockWidget*>())
            if (d->objectName() == QLatin1String("detailsDock")) d->raise();
}

bool MainWindow::exportDeployment(const QString& dir) {
    if (!session_ || !shown_ || !shown_->plans || !session_->planning) {
        showError(tr("Nothing to deploy"), tr("Open a model and wait for the planner: the deployment is the planner's selected plan."));
        return false;
    }
    statusBar()->showMessage(tr("Exporting the selected plan to %1…").arg(dir));
    engine_.exportDeployment(shown_->plans, dir);
    return true;
}

void MainWindow::exportPlanJson() {
    if (!session_ || !shown_) return showError(tr("Nothing to export"), tr("Open a model first."));
    if (shown_->plans && session_->planning) {  // the planner's plan.json, as `autosplit plan --out`
        const QString p = QFileDialog::getSaveFileName(
            this, tr("Export plan"), QFileInfo(session_->model->path).completeBaseName() + QStringLiteral(".plan.json"),
            tr("JSON (*.json)"));
        if (p.isEmpty()) return;
        QSaveFile f(p);
        const std::string text = planner::planToJson(*session_->planning->context, *shown_->plans, &session_->planning->data);
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
    s.request = controls_->request();
    s.pinnedSplit = pinnedSplit_;
    if (session_) s.data = session_->data;
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
    controls_->setRequest(s.request);
    pendingPin_ = s.pinnedSplit;
    if (session_ && session_->model->path == QFileInfo(s.modelPath).absoluteFilePath() && session_->model->inputShapes == s.inputs) {
        pinnedSplit_ = pendingPin_;
        pendingPin_.reset();
        showPlan();
    } else {
        openModel(s.modelPath, s.inputs, s.data);
    }
    if (session_ && !engine_.isLoading() && session_->data != s.data) engine_.setDataSource(s.data);
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

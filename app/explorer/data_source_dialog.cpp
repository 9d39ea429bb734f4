#include "data_source_dialog.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSpinBox>

namespace autosplit::explorer {

namespace {

// A line edit with a "Browse…" button (a folder or a file).
QWidget* withBrowse(QLineEdit* edit, bool folder, const QString& filter, QWidget* parent) {
    auto* row = new QWidget(parent);
    auto* h = new QHBoxLayout(row);
    h->setContentsMargins(0, 0, 0, 0);
    h->addWidget(edit, 1);
    auto* b = new QPushButton(QObject::tr("Browse…"), row);
    h->addWidget(b);
    QObject::connect(b, &QPushButton::clicked, row, [edit, folder, filter, parent] {
        const QString start = edit->text().isEmpty() ? QDir::currentPath() : QFileInfo(edit->text()).absolutePath();
        const QString p = folder ? QFileDialog::getExistingDirectory(parent, QObject::tr("Data folder"), edit->text())
                                 : QFileDialog::getOpenFileName(parent, QObject::tr("Choose a file"), start, filter);
        if (!p.isEmpty()) edit->setText(p);
    });
    return row;
}

}  // namespace

DataSourceDialog::DataSourceDialog(const planner::DataSource& current, QWidget* parent) : QDialog(parent) {
    setWindowTitle(tr("Data Source"));
    setObjectName(QStringLiteral("dataSourceDialog"));
    auto* form = new QFormLayout(this);
    auto* intro = new QLabel(tr("The planner calibrates on one part of this data and measures every accuracy drop on the "
                                "other, disjoint part. Without a folder it uses synthetic inputs (random data: drops then "
                                "measure fidelity, not the task)."),
                             this);
    intro->setWordWrap(true);
    form->addRow(intro);
    folder_ = new QLineEdit(QString::fromStdString(current.folder), this);
    folder_->setObjectName(QStringLiteral("dataFolder"));
    folder_->setPlaceholderText(tr("images (.png/.jpg) or tensors (.pb/.npy); empty: synthetic"));
    form->addRow(tr("Data &folder:"), withBrowse(folder_, true, {}, this));
    labels_ = new QLineEdit(QString::fromStdString(current.labels), this);
    labels_->setObjectName(QStringLiteral("dataLabels"));
    labels_->setPlaceholderText(tr("FILE<TAB>LABEL lines: class index, or the text of a line"));
    form->addRow(tr("&Labels:"), withBrowse(labels_, false, tr("Label files (*.txt *.tsv);;All files (*)"), this));
    dictionary_ = new QLineEdit(QString::fromStdString(current.dictionary), this);
    dictionary_->setObjectName(QStringLiteral("dataDictionary"));
    dictionary_->setPlaceholderText(tr("CTC character dictionary (PaddleOCR keys): a text recognizer"));
    form->addRow(tr("&Dictionary:"), withBrowse(dictionary_, false, tr("Dictionaries (*.txt);;All files (*)"), this));
    preprocess_ = new QLineEdit(QString::fromStdString(current.preprocess), this);
    preprocess_->setPlaceholderText(tr("preprocess.json; empty: the folder's own or the default"));
    form->addRow(tr("&Preprocessing:"), withBrowse(preprocess_, false, tr("Profiles (*.json);;All files (*)"), this));
    auto spin = [this](int value, int min, const QString& zero) {
        auto* s = new QSpinBox(this);
        s->setRange(min, 100000);
        s->setValue(value);
        if (!zero.isEmpty()) s->setSpecialValueText(zero);
        return s;
    };
    calibration_ = spin(current.calibrationSamples, 0, tr("default (half, at most 64)"));
    form->addRow(tr("&Calibration samples:"), calibration_);
    measurement_ = spin(current.measurementSamples, 0, tr("default (the rest)"));
    form->addRow(tr("&Measured samples:"), measurement_);
    synthetic_ = spin(current.synthetic, 2, {});
    form->addRow(tr("&Synthetic inputs (no folder):"), synthetic_);
    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    form->addRow(buttons);
    resize(620, sizeHint().height());
}

planner::DataSource DataSourceDialog::source() const {
    planner::DataSource d;
    d.folder = folder_->text().trimmed().toStdString();
    d.labels = labels_->text().trimmed().toStdString();
    d.dictionary = dictionary_->text().trimmed().toStdString();
    d.preprocess = preprocess_->text().trimmed().toStdString();
    d.synthetic = synthetic_->value();
    d.calibrationSamples = calibration_->value();
    d.measurementSamples = measurement_->value();
    return d;
}

QString describeDataSource(const planner::DataSource& d) {
    if (d.folder.empty()) return QObject::tr("%1 synthetic inputs").arg(d.synthetic);
    QString s = QDir::toNativeSeparators(QString::fromStdString(d.folder));
    if (!d.labels.empty()) s += QObject::tr(" with labels");
    if (!d.dictionary.empty()) s += QObject::tr(" (CTC dictionary)");
    return s;
}

}  // namespace autosplit::explorer

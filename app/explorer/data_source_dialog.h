// File → Data Source…: where the planner calibrates and measures (a folder of images or tensor
// files, its labels, a CTC dictionary, a preprocessing profile, the held-out sizes). Empty
// folder: synthetic inputs, which the window then says on every view.
#pragma once

#include "autosplit/planner/session.h"

#include <QDialog>

class QLineEdit;
class QSpinBox;

namespace autosplit::explorer {

class DataSourceDialog : public QDialog {
    Q_OBJECT
public:
    explicit DataSourceDialog(const planner::DataSource& current, QWidget* parent = nullptr);
    planner::DataSource source() const;
    // Fields, for tests.
    QLineEdit* folderEdit() const { return folder_; }
    QLineEdit* labelsEdit() const { return labels_; }
    QLineEdit* dictionaryEdit() const { return dictionary_; }

private:
    QLineEdit* folder_;
    QLineEdit* labels_;
    QLineEdit* dictionary_;
    QLineEdit* preprocess_;
    QSpinBox* synthetic_;
    QSpinBox* calibration_;
    QSpinBox* measurement_;
};

// "32 held-out of …, calibrated on 32" — one line for the status bar and the scatter.
QString describeDataSource(const planner::DataSource& d);

}  // namespace autosplit::explorer

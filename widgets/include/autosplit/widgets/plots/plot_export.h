// Image export of the explorer's plots (File > Export and the tests).
#pragma once

#include <qcustomplot.h>

#include <QString>
#include <QStringList>

namespace autosplit::widgets {

// Save a plot as PNG, PDF or SVG (by the file's suffix; SVG needs Qt Svg). False on failure.
bool exportPlot(QCustomPlot* plot, const QString& fileName, QString* error = nullptr);
QStringList plotExportFilters();  // for QFileDialog

}  // namespace autosplit::widgets

#include "autosplit/widgets/plots/plot_export.h"

#include <QFileInfo>

#ifdef AUTOSPLIT_HAVE_QTSVG
#include <QSvgGenerator>
#endif

#include <algorithm>

namespace autosplit::widgets {

QStringList plotExportFilters() {
    QStringList f{QStringLiteral("PNG image (*.png)"), QStringLiteral("PDF document (*.pdf)")};
#ifdef AUTOSPLIT_HAVE_QTSVG
    f << QStringLiteral("SVG drawing (*.svg)");
#endif
    return f;
}

bool exportPlot(QCustomPlot* plot, const QString& fileName, QString* error) {
    const QString suffix = QFileInfo(fileName).suffix().toLower();
    const int w = std::max(plot->width(), 640), h = std::max(plot->height(), 360);
    bool ok = false;
    if (suffix == QLatin1String("png")) ok = plot->savePng(fileName, w, h, 2.0);
    else if (suffix == QLatin1String("pdf")) ok = plot->savePdf(fileName, w, h);
#ifdef AUTOSPLIT_HAVE_QTSVG
    else if (suffix == QLatin1String("svg")) {
        QSvgGenerator svg;
        svg.setFileName(fileName);
        svg.setSize(QSize(w, h));
        svg.setViewBox(QRect(0, 0, w, h));
        QCPPainter painter;
        ok = painter.begin(&svg);
        if (ok) {
            plot->toPainter(&painter, w, h);
            painter.end();
        }
    }
#endif
    else {
        if (error) *error = QStringLiteral("unsupported image format '.%1' (use %2)").arg(suffix, plotExportFilters().join(QStringLiteral(", ")));
        return false;
    }
    if (!ok && error) *error = QStringLiteral("cannot write %1").arg(fileName);
    return ok;
}

}  // namespace autosplit::widgets

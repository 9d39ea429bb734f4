#include "autosplit/engine/model_session.h"

#include "autosplit/util/errors.h"

#include <QStringList>

namespace autosplit::engine {

QString shapeText(const std::vector<int64_t>& shape) {
    if (shape.empty()) return QStringLiteral("scalar");
    QStringList parts;
    for (int64_t d : shape) parts << (d < 0 ? QStringLiteral("?") : QString::number(d));
    return parts.join(QLatin1Char('x'));
}

QString bindingsText(const InputBindings& b) {
    QStringList parts;
    for (const auto& [name, dims] : b) parts << QString::fromStdString(name) + QLatin1Char('=') + shapeText(dims);
    return parts.join(QLatin1Char(','));
}

InputBindings parseBindings(const QString& text) {
    InputBindings out;
    for (const QString& part : text.split(QLatin1Char(','), Qt::SkipEmptyParts)) {
        auto [name, dims] = parseInputBinding(part.trimmed().toStdString());
        out[name] = dims;
    }
    return out;
}

}  // namespace autosplit::engine

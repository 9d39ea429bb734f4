// autosplit-explorer [MODEL.onnx | SESSION.json] [--input NAME=DIMS,...]
#include "example_model.h"
#include "main_window.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>

int main(int argc, char** argv) {
    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("autosplit-explorer"));
    QApplication::setOrganizationName(QStringLiteral("autosplit"));
    QApplication::setApplicationVersion(QStringLiteral(AUTOSPLIT_VERSION));
    QApplication::setWindowIcon(QIcon::fromTheme(QStringLiteral("autosplit-explorer")));

    QCommandLineParser parser;
    parser.setApplicationDescription(QStringLiteral("Split a DNN between an edge and a cloud accelerator (Auto-Split)."));
    parser.addHelpOption();
    parser.addVersionOption();
    QCommandLineOption input(QStringLiteral("input"), QStringLiteral("Bind input dims, e.g. x=1x3x640x640 (comma separated)."),
                             QStringLiteral("NAME=DIMS"));
    parser.addOption(input);
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("ONNX model or saved session (.json); default: the bundled example."));
    parser.process(app);

    autosplit::explorer::MainWindow window;
    window.show();
    const QStringList args = parser.positionalArguments();
    if (args.isEmpty()) {
        window.openExample();
    } else if (args.front().endsWith(QLatin1String(".json"), Qt::CaseInsensitive)) {
        window.openSession(args.front());
    } else {
        autosplit::engine::InputBindings bindings;
        try {
            bindings = autosplit::engine::parseBindings(parser.value(input));
        } catch (const std::exception& e) {
            qWarning("error: --input: %s", e.what());
            return 2;
        }
        window.openModel(args.front(), bindings);
    }
    return QApplication::exec();
}

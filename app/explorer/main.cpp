// autosplit-explorer [MODEL.onnx | SESSION.json] [--input NAME=DIMS,...] [--data DIR [--labels F]
//                    [--dict KEYS.txt] [--preprocess P.json]]
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
    QCommandLineOption data(QStringLiteral("data"),
                            QStringLiteral("Calibration and held-out measurement data: a folder of images or tensor files."),
                            QStringLiteral("DIR"));
    QCommandLineOption labels(QStringLiteral("labels"), QStringLiteral("Labels of the data (FILE<TAB>LABEL lines)."),
                              QStringLiteral("FILE"));
    QCommandLineOption dict(QStringLiteral("dict"), QStringLiteral("CTC character dictionary (text recognizers)."),
                            QStringLiteral("KEYS.txt"));
    QCommandLineOption preprocess(QStringLiteral("preprocess"), QStringLiteral("Preprocessing profile of the images."),
                                  QStringLiteral("FILE.json"));
    parser.addOptions({data, labels, dict, preprocess});
    parser.addPositionalArgument(QStringLiteral("file"), QStringLiteral("ONNX model or saved session (.json); default: the bundled example."));
    parser.process(app);

    autosplit::planner::DataSource source;
    source.folder = parser.value(data).toStdString();
    source.labels = parser.value(labels).toStdString();
    source.dictionary = parser.value(dict).toStdString();
    source.preprocess = parser.value(preprocess).toStdString();
    if (source.folder.empty() && (!source.labels.empty() || !source.preprocess.empty())) {
        qWarning("error: --labels and --preprocess need --data DIR");
        return 2;
    }

    autosplit::explorer::MainWindow window;
    window.show();
    const QStringList args = parser.positionalArguments();
    if (args.isEmpty() && !source.folder.empty()) {
        qWarning("error: --data needs a MODEL.onnx");
        return 2;
    }
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
        window.openModel(args.front(), bindings, source);
    }
    return QApplication::exec();
}

// The ONNX Runtime reference of the suites that cross-check against it (onnxruntime-node, run by
// scripts/ort/run_ort.js): where it is installed and why it cannot run.
#pragma once

#include <QDir>
#include <QFile>
#include <QProcess>
#include <QProcessEnvironment>
#include <QStandardPaths>
#include <QString>

namespace autosplit::testing {

// $AUTOSPLIT_ORT_DIR, else <repo>/.cache/ort (scripts/test.sh installs it there). A relative
// $AUTOSPLIT_ORT_DIR is taken from the repository root, where the README's commands run: ctest
// runs each suite in its own build folder, where it would name nothing.
inline QString ortDir() {
    const QByteArray env = qgetenv("AUTOSPLIT_ORT_DIR");
    if (env.isEmpty()) return QString(AUTOSPLIT_SOURCE_DIR "/.cache/ort");
    return QDir(QStringLiteral(AUTOSPLIT_SOURCE_DIR)).absoluteFilePath(QString::fromLocal8Bit(env));
}

// The node executable, found on PATH (empty when absent).
inline QString nodeExecutable() { return QStandardPaths::findExecutable(QStringLiteral("node")); }

// Sets up `p` to run scripts/ort/run_ort.js with ortDir() (resolved: the script would take a
// relative one from its own working directory).
inline void useOrtDir(QProcess& p) {
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("AUTOSPLIT_ORT_DIR"), ortDir());
    p.setProcessEnvironment(env);
}

// Why the reference cannot run here, for QSKIP; empty when it can.
inline QString ortUnavailable() {
    if (nodeExecutable().isEmpty()) return QStringLiteral("node is not installed (apt-get install nodejs)");
    if (!QFile::exists(ortDir() + "/node_modules/onnxruntime-node"))
        return "onnxruntime-node is not installed in " + ortDir() +
               " (cd .cache/ort && ONNXRUNTIME_NODE_INSTALL=skip npm install onnxruntime-node@1.30.0; scripts/test.sh does it)";
    return {};
}

}  // namespace autosplit::testing

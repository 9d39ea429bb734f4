// Runs the `autosplit` CLI (AUTOSPLIT_CLI, defined for every suite) as a user would.
#pragma once

#include <QProcess>
#include <QProcessEnvironment>
#include <QStringList>
#include <QtGlobal>

namespace autosplit::testing {

struct CliRun {
    int code = -1;
    QByteArray out, err;
};

// `env` entries are added to the test's own environment (e.g. AUTOSPLIT_CACHE).
inline CliRun runCli(const QStringList& args, const QProcessEnvironment& env = {}, int timeoutMs = 300000) {
    QProcess p;
    QProcessEnvironment full = QProcessEnvironment::systemEnvironment();
    for (const QString& key : env.keys()) full.insert(key, env.value(key));
    p.setProcessEnvironment(full);
    p.start(QStringLiteral(AUTOSPLIT_CLI), args);
    if (!p.waitForFinished(timeoutMs)) qFatal("autosplit %s did not finish", qPrintable(args.join(' ')));
    return {p.exitCode(), p.readAllStandardOutput(), p.readAllStandardError()};
}

}  // namespace autosplit::testing

// Sub-command registry of the `autosplit` CLI. Each command lives in its own cmd_*.cpp and
// registers itself with a static Registrar, so adding a command touches no shared file.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace autosplit::cli {

using Args = std::vector<std::string>;

struct Command {
    std::string name;
    std::string summary;  // one line for `autosplit --help`
    std::string usage;    // full usage text for `autosplit NAME --help`
    std::function<int(const Args&)> run;  // returns the exit code; throws autosplit::Error on bad input
};

std::vector<Command>& registry();

struct Registrar {
    explicit Registrar(Command c) { registry().push_back(std::move(c)); }
};

// Small argument helpers shared by the commands.
class ArgReader {
public:
    ArgReader(const Args& args, std::string usage);
    bool flag(const std::string& name);                       // --json
    std::vector<std::string> values(const std::string& name); // every --input X (or --input=X)
    // Only the values of `name` that satisfy `accept`; the others stay for a later reader.
    std::vector<std::string> valuesIf(const std::string& name, const std::function<bool(const std::string&)>& accept);
    std::string value(const std::string& name, const std::string& fallback = {});
    bool has(const std::string& name) const;
    // Remaining positional arguments; throws UsageError on unknown options left over.
    std::vector<std::string> positionals();
    const std::string& usage() const { return usage_; }

private:
    std::vector<std::string> args_;
    std::vector<bool> used_;
    std::string usage_;
};

struct UsageError {
    std::string message;
};

}  // namespace autosplit::cli

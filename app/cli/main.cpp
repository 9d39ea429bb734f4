#include "command.h"

#include "autosplit/util/errors.h"

#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>

namespace autosplit::cli {

std::vector<Command>& registry() {
    static std::vector<Command> commands;
    return commands;
}

ArgReader::ArgReader(const Args& args, std::string usage)
    : args_(args), used_(args.size(), false), usage_(std::move(usage)) {}

bool ArgReader::has(const std::string& name) const {
    for (size_t i = 0; i < args_.size(); ++i)
        if (!used_[i] && (args_[i] == name || args_[i].rfind(name + "=", 0) == 0)) return true;
    return false;
}

bool ArgReader::flag(const std::string& name) {
    bool found = false;
    for (size_t i = 0; i < args_.size(); ++i)
        if (!used_[i] && args_[i] == name) used_[i] = found = true;
    return found;
}

std::vector<std::string> ArgReader::values(const std::string& name) {
    return valuesIf(name, [](const std::string&) { return true; });
}

std::vector<std::string> ArgReader::valuesIf(const std::string& name,
                                             const std::function<bool(const std::string&)>& accept) {
    std::vector<std::string> out;
    for (size_t i = 0; i < args_.size(); ++i) {
        if (used_[i]) continue;
        if (args_[i] == name) {
            if (i + 1 >= args_.size()) throw UsageError{name + " needs a value"};
            if (!accept(args_[i + 1])) continue;
            used_[i] = used_[i + 1] = true;
            out.push_back(args_[i + 1]);
            ++i;
        } else if (args_[i].rfind(name + "=", 0) == 0) {
            if (!accept(args_[i].substr(name.size() + 1))) continue;
            used_[i] = true;
            out.push_back(args_[i].substr(name.size() + 1));
        }
    }
    return out;
}

std::string ArgReader::value(const std::string& name, const std::string& fallback) {
    auto v = values(name);
    if (v.size() > 1) throw UsageError{name + " given more than once"};
    return v.empty() ? fallback : v.front();
}

std::vector<std::string> ArgReader::positionals() {
    std::vector<std::string> out;
    for (size_t i = 0; i < args_.size(); ++i) {
        if (used_[i]) continue;
        if (args_[i].size() > 1 && args_[i][0] == '-') throw UsageError{"unknown option " + args_[i]};
        out.push_back(args_[i]);
    }
    return out;
}

}  // namespace autosplit::cli

using namespace autosplit::cli;

static void printHelp() {
    auto cmds = registry();
    std::sort(cmds.begin(), cmds.end(), [](auto& a, auto& b) { return a.name < b.name; });
    std::cout << "usage: autosplit COMMAND [options]\n\n"
                 "Plans how to split a DNN between an edge device and the cloud (Auto-Split).\n\n"
                 "commands:\n";
    for (const auto& c : cmds) std::printf("  %-11s %s\n", c.name.c_str(), c.summary.c_str());
    std::cout << "\n`autosplit COMMAND --help` shows a command's options.\n";
}

int main(int argc, char** argv) {
    std::ios::sync_with_stdio(false);
    if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
        printHelp();
        return argc < 2 ? 2 : 0;
    }
    const std::string name = argv[1];
    const auto& cmds = registry();
    auto it = std::find_if(cmds.begin(), cmds.end(), [&](const Command& c) { return c.name == name; });
    if (it == cmds.end()) {
        std::cerr << "error: unknown command '" << name << "' (see autosplit --help)\n";
        return 2;
    }
    Args args(argv + 2, argv + argc);
    if (std::find(args.begin(), args.end(), "--help") != args.end() ||
        std::find(args.begin(), args.end(), "-h") != args.end()) {
        std::cout << it->usage;
        return 0;
    }
    try {
        return it->run(args);
    } catch (const UsageError& e) {
        std::cerr << "error: " << e.message << "\n" << it->usage;
        return 2;
    } catch (const autosplit::Error& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    } catch (const std::bad_alloc&) {
        std::cerr << "error: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
        return 1;
    }
}

#include "autosplit/sim/device.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <sstream>

namespace autosplit::sim {

// Defined in the source generated from resources/devices/*.json (see sim/CMakeLists.txt).
struct EmbeddedDevice {
    const char* name;
    const char* json;
};
extern const EmbeddedDevice kEmbeddedDevices[];
extern const int kEmbeddedDeviceCount;

using nlohmann::json;

const char* dataflowName(Dataflow d) {
    switch (d) {
    case Dataflow::OutputStationary: return "os";
    case Dataflow::WeightStationary: return "ws";
    case Dataflow::InputStationary: return "is";
    }
    return "?";
}

bool DeviceProfile::supportsBits(int b) const {
    return std::find(bits.begin(), bits.end(), b) != bits.end();
}

std::string DeviceProfile::fingerprint() const {
    std::ostringstream s;
    s.precision(17);
    s << "v" << kSchemaVersion << ';' << name << ';' << rows << 'x' << cols << ';' << dataflowName(dataflow)
      << ';' << clockMHz << ';' << nativeMacBits << ';' << ifmapBufferBytes << ';'
      << filterBufferBytes << ';' << ofmapBufferBytes << ';' << doubleBuffered << ';' << offchipBytes << ';'
      << bandwidthGBps << ';' << vectorOpsPerCycle << ";bits";
    for (int b : bits) s << ',' << b;
    return s.str();
}

namespace {

const char* typeName(const json& v) {
    if (v.is_number_integer()) return "an integer";
    if (v.is_number_float()) return "a number";
    return v.type_name();
}

// Reads one JSON object, remembering which keys were consumed so leftovers (typos) are
// reported by their full dotted path.
class ObjectReader {
public:
    ObjectReader(const json& obj, std::string path, const std::string& file)
        : obj_(obj), path_(std::move(path)), file_(file) {
        if (!obj_.is_object())
            fail(path_.empty() ? std::string("the document must be a JSON object")
                               : "field '" + path_ + "' must be an object, got " + typeName(obj_));
    }

    [[noreturn]] void fail(const std::string& what) const { throw DeviceError(file_ + ": " + what); }

    std::string field(const std::string& key) const { return path_.empty() ? key : path_ + "." + key; }

    const json& require(const std::string& key) {
        seen_.insert(key);
        auto it = obj_.find(key);
        if (it == obj_.end()) fail("missing field '" + field(key) + "'");
        return *it;
    }
    const json* optional(const std::string& key) {
        seen_.insert(key);
        auto it = obj_.find(key);
        return it == obj_.end() ? nullptr : &*it;
    }

    int64_t positiveInt(const std::string& key) {
        const json& v = require(key);
        if (v.is_number_float()) {
            double d = v.get<double>();
            if (d != std::floor(d)) fail("field '" + field(key) + "' must be an integer, got " + v.dump());
        } else if (!v.is_number_integer()) {
            fail("field '" + field(key) + "' must be an integer, got " + typeName(v));
        }
        double d = v.get<double>();
        if (d <= 0) fail("field '" + field(key) + "' must be positive, got " + v.dump());
        if (d > 9.0e15) fail("field '" + field(key) + "' is too large: " + v.dump());
        return v.get<int64_t>();
    }
    double positiveNumber(const std::string& key) {
        const json& v = require(key);
        if (!v.is_number()) fail("field '" + field(key) + "' must be a number, got " + typeName(v));
        double d = v.get<double>();
        if (!(d > 0) || !std::isfinite(d)) fail("field '" + field(key) + "' must be positive, got " + v.dump());
        return d;
    }
    std::string string(const std::string& key) {
        const json& v = require(key);
        if (!v.is_string()) fail("field '" + field(key) + "' must be a string, got " + typeName(v));
        return v.get<std::string>();
    }
    bool boolean(const std::string& key) {
        const json& v = require(key);
        if (!v.is_boolean()) fail("field '" + field(key) + "' must be true or false, got " + typeName(v));
        return v.get<bool>();
    }

    void rejectUnknown() const {
        for (auto it = obj_.begin(); it != obj_.end(); ++it)
            if (!seen_.count(it.key())) fail("unknown field '" + field(it.key()) + "'");
    }

private:
    const json& obj_;
    std::string path_;
    const std::string& file_;
    std::set<std::string> seen_;
};

}  // namespace

DeviceProfile parseDevice(const std::string& jsonText, const std::string& displayName) {
    json doc;
    try {
        doc = json::parse(jsonText);
    } catch (const json::parse_error& e) {
        throw DeviceError(displayName + ": not valid JSON (" + e.what() + ")");
    }
    DeviceProfile d;
    ObjectReader top(doc, "", displayName);

    if (top.string("schema") != "autosplit-device")
        top.fail("field 'schema' must be \"autosplit-device\"");
    const int64_t version = top.positiveInt("version");
    if (version != 1 && version != DeviceProfile::kSchemaVersion)
        top.fail("field 'version' is " + doc["version"].dump() + "; this build reads versions 1 and " +
                 std::to_string(DeviceProfile::kSchemaVersion));
    d.name = top.string("name");
    if (d.name.empty()) top.fail("field 'name' must not be empty");
    if (const json* desc = top.optional("description")) {
        if (!desc->is_string()) top.fail(std::string("field 'description' must be a string, got ") + typeName(*desc));
        d.description = desc->get<std::string>();
    }

    {
        ObjectReader a(top.require("array"), "array", displayName);
        d.rows = a.positiveInt("rows");
        d.cols = a.positiveInt("cols");
        const std::string df = a.string("dataflow");
        if (df == "os") d.dataflow = Dataflow::OutputStationary;
        else if (df == "ws") d.dataflow = Dataflow::WeightStationary;
        else if (df == "is") d.dataflow = Dataflow::InputStationary;
        else a.fail("field 'array.dataflow' must be one of \"os\", \"ws\", \"is\", got \"" + df + "\"");
        d.clockMHz = a.positiveNumber("clock_mhz");
        // Version 1 named the native width `mac_bits` and let each file count its own ops per
        // MAC (reporting only); version 2 has one convention, DeviceProfile::kOpsPerMac.
        if (version != 1) {
            if (a.optional("mac_bits"))
                a.fail("field 'array.mac_bits' is named 'array.native_mac_bits' since version 2");
            if (a.optional("ops_per_mac"))
                a.fail("field 'array.ops_per_mac' is not read since version 2: every device counts " +
                       std::to_string(DeviceProfile::kOpsPerMac) + " ops per MAC (multiply + add)");
        }
        const std::string macKey = version == 1 ? "mac_bits" : "native_mac_bits";
        const int64_t macBits = a.positiveInt(macKey);
        if (macBits > 64) a.fail("field '" + a.field(macKey) + "' must be at most 64, got " + std::to_string(macBits));
        d.nativeMacBits = int(macBits);
        if (version == 1) a.positiveInt("ops_per_mac");  // read for validation, then ignored
        a.rejectUnknown();
    }
    {
        ObjectReader b(top.require("buffers"), "buffers", displayName);
        d.ifmapBufferBytes = b.positiveInt("ifmap_bytes");
        d.filterBufferBytes = b.positiveInt("filter_bytes");
        d.ofmapBufferBytes = b.positiveInt("ofmap_bytes");
        d.doubleBuffered = b.boolean("double_buffered");
        b.rejectUnknown();
    }
    {
        ObjectReader m(top.require("offchip"), "offchip", displayName);
        d.offchipBytes = m.positiveInt("size_bytes");
        d.bandwidthGBps = m.positiveNumber("bandwidth_gbps");
        m.rejectUnknown();
    }
    {
        ObjectReader v(top.require("vector_unit"), "vector_unit", displayName);
        d.vectorOpsPerCycle = v.positiveNumber("ops_per_cycle");
        v.rejectUnknown();
    }
    {
        const json& bits = top.require("bits");
        if (!bits.is_array()) top.fail(std::string("field 'bits' must be an array of integers, got ") + typeName(bits));
        if (bits.empty()) top.fail("field 'bits' must list at least one bit-width");
        for (size_t i = 0; i < bits.size(); ++i) {
            const std::string f = "bits[" + std::to_string(i) + "]";
            if (!bits[i].is_number_integer())
                top.fail("field '" + f + "' must be an integer, got " + typeName(bits[i]));
            int64_t b = bits[i].get<int64_t>();
            if (b <= 0) top.fail("field '" + f + "' must be positive, got " + bits[i].dump());
            if (b > 32) top.fail("field '" + f + "' must be at most 32, got " + bits[i].dump());
            if (std::find(d.bits.begin(), d.bits.end(), int(b)) != d.bits.end())
                top.fail("field '" + f + "' repeats bit-width " + bits[i].dump());
            d.bits.push_back(int(b));
        }
        std::sort(d.bits.begin(), d.bits.end());
    }
    top.rejectUnknown();
    d.source = displayName;
    return d;
}

DeviceProfile loadDevice(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw DeviceError(path + ": cannot open device file");
    std::ostringstream text;
    text << in.rdbuf();
    return parseDevice(text.str(), path);
}

std::string writeDevice(const DeviceProfile& d) {
    json doc = json::object();
    doc["schema"] = "autosplit-device";
    doc["version"] = DeviceProfile::kSchemaVersion;
    doc["name"] = d.name;
    if (!d.description.empty()) doc["description"] = d.description;
    doc["array"] = {{"rows", d.rows},
                    {"cols", d.cols},
                    {"dataflow", dataflowName(d.dataflow)},
                    {"clock_mhz", d.clockMHz},
                    {"native_mac_bits", d.nativeMacBits}};
    doc["buffers"] = {{"ifmap_bytes", d.ifmapBufferBytes},
                      {"filter_bytes", d.filterBufferBytes},
                      {"ofmap_bytes", d.ofmapBufferBytes},
                      {"double_buffered", d.doubleBuffered}};
    doc["offchip"] = {{"size_bytes", d.offchipBytes}, {"bandwidth_gbps", d.bandwidthGBps}};
    doc["vector_unit"] = {{"ops_per_cycle", d.vectorOpsPerCycle}};
    doc["bits"] = d.bits;
    return doc.dump(2) + "\n";
}

std::vector<std::string> builtinDeviceNames() {
    std::vector<std::string> names;
    for (int i = 0; i < kEmbeddedDeviceCount; ++i) names.emplace_back(kEmbeddedDevices[i].name);
    return names;
}

DeviceProfile builtinDevice(const std::string& name) {
    for (int i = 0; i < kEmbeddedDeviceCount; ++i) {
        if (name == kEmbeddedDevices[i].name) {
            DeviceProfile d = parseDevice(kEmbeddedDevices[i].json, "resources/devices/" + name + ".json");
            d.source = "built-in";
            return d;
        }
    }
    std::string known;
    for (const auto& n : builtinDeviceNames()) known += (known.empty() ? "" : ", ") + n;
    throw DeviceError("unknown device '" + name + "' (built-in: " + known + "; or give a .json file)");
}

DeviceProfile resolveDevice(const std::string& nameOrPath) {
    const bool looksLikeFile = nameOrPath.find('/') != std::string::npos ||
                               (nameOrPath.size() > 5 && nameOrPath.compare(nameOrPath.size() - 5, 5, ".json") == 0);
    return looksLikeFile ? loadDevice(nameOrPath) : builtinDevice(nameOrPath);
}

}  // namespace autosplit::sim

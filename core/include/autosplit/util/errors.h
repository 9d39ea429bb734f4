#pragma once

#include <stdexcept>
#include <string>

namespace autosplit {

// Every user-facing failure of core is one of these: the message is one line that names the
// file, tensor, node or field at fault, ready to print after "error: ".
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

class ImportError : public Error {  // the file is not a usable ONNX model
public:
    using Error::Error;
};

class GraphError : public Error {  // structural problem: cycle, missing tensor, two producers
public:
    using Error::Error;
};

class ShapeError : public Error {  // a shape needed for analysis stays unknown
public:
    using Error::Error;
};

class Cancelled : public Error {  // a CancelToken was triggered
public:
    Cancelled() : Error("cancelled") {}
};

}  // namespace autosplit

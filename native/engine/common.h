// common.h: the engine's error type and small shared helpers. Not a kernel, not Node-aware.
// The engine never calls exit() or abort(): it throws electra::Error, which the binding turns
// into a JavaScript Error and the native tests report.
#pragma once
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace electra {

struct Error : std::runtime_error {
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

// Number of elements of a shape (empty shape = scalar = 1).
inline int64_t numel(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace electra

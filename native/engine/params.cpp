// params.cpp: the parameter table.
#include "engine/params.h"

#include "engine/common.h"

namespace electra {

size_t ParamTable::reserve(size_t n) {
  size_t off = total_;
  total_ += n;
  return off;
}

void ParamTable::name(const std::string& name, std::vector<int64_t> shape, size_t offset, int depth) {
  if (find(name)) throw Error("internal: parameter " + name + " declared twice");
  size_t n = (size_t)numel(shape);
  if (offset + n > total_) throw Error("internal: parameter " + name + " outside its block");
  bool no_decay = name.find("LayerNorm") != std::string::npos || name.find("layer_norm") != std::string::npos ||
                  name.find("bias") != std::string::npos;
  entries_.push_back({name, std::move(shape), offset, n, !no_decay, depth});
}

size_t ParamTable::add(const std::string& name, std::vector<int64_t> shape, int depth) {
  size_t off = reserve((size_t)numel(shape));
  this->name(name, std::move(shape), off, depth);
  return off;
}

const TensorEntry* ParamTable::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

}  // namespace electra

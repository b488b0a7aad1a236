// params.h: the parameter table: every tensor of a model as (name, shape, offset) into one flat
// buffer, with its Hugging Face name, whether AdamW decays it, and its depth for layer-wise
// learning-rate decay. One flat buffer makes AdamW one loop and a checkpoint one write.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace electra {

struct TensorEntry {
  std::string name;            // Hugging Face name (generator tensors of a pre-training model: "generator." + name)
  std::vector<int64_t> shape;  // as Hugging Face stores it ([out, in] for linear weights)
  size_t offset;               // into the flat buffer, in elements
  size_t size;                 // elements
  bool decay;                  // AdamW weight decay applies (not LayerNorm weights, not biases)
  int depth;                   // 0 embeddings, i + 1 encoder layer i, L + 1 heads, as ELECTRA counts layers
};

class ParamTable {
 public:
  // Reserves `n` elements and returns their offset (tensors are then named inside it with `name`).
  size_t reserve(size_t n);
  // Names a tensor at `offset` (inside a reserved block).
  void name(const std::string& name, std::vector<int64_t> shape, size_t offset, int depth);
  // Reserves and names in one go.
  size_t add(const std::string& name, std::vector<int64_t> shape, int depth);
  const std::vector<TensorEntry>& entries() const { return entries_; }
  const TensorEntry* find(const std::string& name) const;
  size_t total() const { return total_; }

 private:
  std::vector<TensorEntry> entries_;
  size_t total_ = 0;
};

}  // namespace electra

// packing.h: ELECTRA's pre-training example builder (build_pretraining_dataset.py, ExampleBuilder),
// rule for rule: lines of token ids accumulate until they reach a target length (the maximum, or
// with probability 0.05 a random length in [5, max]); a blank line ends a document; the sentences
// are split into segments A and B at a sentence boundary (A aims at (target - 3) / 2 tokens, or with
// probability 0.1 takes everything); then [CLS] A [SEP] B [SEP], truncated to the maximum length.
// Randomness comes from the counter-based RNG, drawn in ELECTRA's order, so a seed fixes the output.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace electra {

struct PackedExample {
  std::vector<int32_t> ids;  // [CLS] A [SEP] (B [SEP]), unpadded
  int len_a = 0;             // length of [CLS] A [SEP]: segment 0; the rest (B [SEP]) is segment 1
};

class ExamplePacker {
 public:
  ExamplePacker(int max_length, int cls_id, int sep_id, uint64_t seed, uint64_t stream);
  // One line's token ids; `blank` marks an empty line (a document boundary). Examples that become
  // complete are appended to `out`.
  void add_line(const int32_t* ids, size_t n, bool blank, std::vector<PackedExample>& out);
  // End of an input file (ELECTRA calls add_line("") there): emits what is pending.
  void end_of_file(std::vector<PackedExample>& out) { add_line(nullptr, 0, true, out); }
  uint64_t draws() const { return draws_; }
  // Tests replace the RNG with scripted draws (each in [0, 1)) to check the rules by hand.
  void set_uniform_source(std::function<double()> f) { source_ = std::move(f); }

 private:
  double uniform();
  void create_example(std::vector<PackedExample>& out);
  int max_length_, target_length_, cls_, sep_;
  uint64_t seed_, stream_, draws_ = 0;
  std::vector<std::vector<int32_t>> sentences_;
  size_t current_length_ = 0;
  std::function<double()> source_;
};

}  // namespace electra

// packing.cpp: ELECTRA's ExampleBuilder.
#include "engine/packing.h"

#include <algorithm>

#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

ExamplePacker::ExamplePacker(int max_length, int cls_id, int sep_id, uint64_t seed, uint64_t stream)
    : max_length_(max_length), target_length_(max_length), cls_(cls_id), sep_(sep_id), seed_(seed), stream_(stream) {
  if (max_length < 5) throw Error("max sequence length must be at least 5 (got " + std::to_string(max_length) + ")");
}

double ExamplePacker::uniform() {
  if (source_) return source_();
  // 53-bit uniform in [0, 1) from two 32-bit draws, like Python's random.random().
  const uint64_t a = random_u32(seed_, stream_, draws_++) >> 5, b = random_u32(seed_, stream_, draws_++) >> 6;
  return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
}

void ExamplePacker::add_line(const int32_t* ids, size_t n, bool blank, std::vector<PackedExample>& out) {
  if (blank && current_length_ != 0) {  // empty lines separate documents
    create_example(out);
    return;
  }
  sentences_.emplace_back(ids, ids + n);
  current_length_ += n;
  if (current_length_ >= (size_t)target_length_) create_example(out);
}

void ExamplePacker::create_example(std::vector<PackedExample>& out) {
  // a small chance to have only one segment, as in classification tasks
  const size_t first_target = uniform() < 0.1 ? 100000 : (size_t)(target_length_ - 3) / 2;
  std::vector<int32_t> first, second;
  for (const auto& s : sentences_) {
    // to the first segment if it is empty, if the sentence keeps it under its target, or (50%)
    // when it would go over but the second segment is still empty
    if (first.empty() || first.size() + s.size() < first_target ||
        (second.empty() && first.size() < first_target && uniform() < 0.5))
      first.insert(first.end(), s.begin(), s.end());
    else
      second.insert(second.end(), s.begin(), s.end());
  }
  // trim to the maximum length, leaving room for [CLS] and the [SEP]s
  if (first.size() > (size_t)max_length_ - 2) first.resize(max_length_ - 2);
  const long room = (long)max_length_ - (long)first.size() - 3;
  if ((long)second.size() > std::max(0L, room)) second.resize(std::max(0L, room));
  sentences_.clear();
  current_length_ = 0;
  // a small chance of a random-length example instead of a full one
  if (uniform() < 0.05) target_length_ = 5 + (int)(uniform() * (max_length_ - 4));  // randint(5, max)
  else target_length_ = max_length_;

  PackedExample ex;
  ex.ids.reserve(first.size() + second.size() + 3);
  ex.ids.push_back(cls_);
  ex.ids.insert(ex.ids.end(), first.begin(), first.end());
  ex.ids.push_back(sep_);
  ex.len_a = (int)ex.ids.size();
  if (!second.empty()) {
    ex.ids.insert(ex.ids.end(), second.begin(), second.end());
    ex.ids.push_back(sep_);
  }
  out.push_back(std::move(ex));
}

}  // namespace electra

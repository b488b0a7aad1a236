// loader.h: streams training batches out of shards: each epoch visits the shards in a shuffled order
// and each shard's examples in a shuffled order (a two-level shuffle that keeps one shard in memory),
// both from the seed and the epoch. The position (epoch, shard, example) is part of the training
// state, so a resumed run reads exactly the batches an uninterrupted one would have.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/shards.h"

namespace electra {

struct LoaderPosition {
  uint64_t epoch = 0, shard = 0, example = 0;  // shard and example: indices into this epoch's orders
};

class ShardLoader {
 public:
  // `files`: shard paths (all with the same sequence length and vocabulary hash, checked on load).
  ShardLoader(std::vector<std::string> files, uint64_t seed, bool shuffle = true);
  // Fills a batch (B rows of T) from the current position and advances it.
  void next(int B, int32_t* ids, int32_t* tt, int32_t* mask);
  const LoaderPosition& position() const { return pos_; }
  void seek(const LoaderPosition& p);
  uint32_t seq_len() const { return seq_len_; }
  uint64_t vocab_hash() const { return vocab_hash_; }
  uint64_t examples() const { return total_; }

 private:
  void ensure_shard();
  std::vector<uint32_t> order(uint64_t n, uint64_t stream) const;
  std::vector<std::string> files_;
  std::vector<uint64_t> sizes_;
  uint64_t seed_, total_ = 0, vocab_hash_ = 0;
  uint32_t seq_len_ = 0;
  bool shuffle_;
  LoaderPosition pos_;
  // the loaded shard and this epoch's orders
  uint64_t loaded_epoch_ = UINT64_MAX, loaded_shard_ = UINT64_MAX;
  std::vector<uint32_t> shard_order_, example_order_;
  std::unique_ptr<Shard> shard_;
};

}  // namespace electra

// loader.cpp: the shard loader.
#include "engine/loader.h"

#include <cstdio>
#include <numeric>

#include "engine/common.h"
#include "engine/rng.h"

namespace electra {

ShardLoader::ShardLoader(std::vector<std::string> files, uint64_t seed, bool shuffle)
    : files_(std::move(files)), seed_(seed), shuffle_(shuffle) {
  if (files_.empty()) throw Error("no training shards found");
  for (const auto& f : files_) {
    Shard s = Shard::load(f);  // validates the whole file once (checksum) before training starts
    const auto& h = s.header();
    if (sizes_.empty()) {
      seq_len_ = h.seq_len;
      vocab_hash_ = h.vocab_hash;
    } else if (h.seq_len != seq_len_ || h.vocab_hash != vocab_hash_) {
      throw Error(f + ": this shard was prepared with another sequence length or vocabulary than " + files_[0] +
                  "; prepare all the data in one `electra prepare` run");
    }
    if (h.num_examples == 0) throw Error(f + ": the shard holds no examples");
    sizes_.push_back(h.num_examples);
    total_ += h.num_examples;
  }
}

std::vector<uint32_t> ShardLoader::order(uint64_t n, uint64_t stream) const {
  std::vector<uint32_t> o(n);
  std::iota(o.begin(), o.end(), 0u);
  if (!shuffle_) return o;
  for (uint64_t i = n; i > 1; i--) {  // Fisher-Yates from the counter-based RNG
    const uint64_t j = ((uint64_t)random_u32(seed_, stream, i) * i) >> 32;
    std::swap(o[i - 1], o[j]);
  }
  return o;
}

void ShardLoader::ensure_shard() {
  if (loaded_epoch_ != pos_.epoch) {
    shard_order_ = order(files_.size(), make_stream(kStreamShuffle, 0xFFFFFF, (uint32_t)pos_.epoch));
    loaded_epoch_ = pos_.epoch;
    loaded_shard_ = UINT64_MAX;
  }
  if (loaded_shard_ != pos_.shard) {
    const uint32_t f = shard_order_[pos_.shard];
    shard_ = std::make_unique<Shard>(Shard::load(files_[f]));
    if (shard_->size() != sizes_[f]) throw Error(files_[f] + ": the shard changed while training; restart the run");
    example_order_ = order(shard_->size(), make_stream(kStreamShuffle, f, (uint32_t)pos_.epoch));
    loaded_shard_ = pos_.shard;
  }
}

void ShardLoader::next(int B, int32_t* ids, int32_t* tt, int32_t* mask) {
  const size_t T = seq_len_;
  for (int b = 0; b < B; b++) {
    ensure_shard();
    shard_->example(example_order_[pos_.example], ids + b * T, tt + b * T, mask + b * T);
    if (++pos_.example >= shard_->size()) {
      pos_.example = 0;
      if (++pos_.shard >= files_.size()) {
        pos_.shard = 0;
        pos_.epoch++;
      }
    }
  }
}

void ShardLoader::seek(const LoaderPosition& p) {
  if (p.shard >= files_.size()) throw Error("data position is outside the shards (were shards added or removed?)");
  pos_ = p;
  ensure_shard();
  if (p.example >= shard_->size()) throw Error("data position is outside its shard (were the shards rebuilt?)");
}

}  // namespace electra

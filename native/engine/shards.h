// shards.h: the binary shard format that `electra prepare` writes and `electra pretrain` reads.
//
// Layout (little-endian), version 1:
//   offset  size  field
//   0       8     magic "ELECSHRD"
//   8       4     version (1)
//   12      4     bytes per token id: 2 (uint16, when the vocabulary has <= 65536 entries) or 4 (uint32)
//   16      4     sequence length T
//   20      4     reserved (0)
//   24      8     number of examples N
//   32      8     vocabulary hash (FNV-1a 64 of vocab.txt's bytes)
//   40      8     payload checksum (FNV-1a 64 of every byte after the header)
//   48      16    reserved (0)
//   64      N records of (4 + T * bytes) bytes: u16 length (tokens before padding), u16 len_a (tokens of
//           segment 0: [CLS] A [SEP]), then T token ids padded with 0 ([PAD]).
// Segment ids and the attention mask follow from length and len_a. Shards are written atomically.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "engine/packing.h"

namespace electra {

uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 0xcbf29ce484222325ULL);

struct ShardHeader {
  uint32_t version = 1, id_bytes = 2, seq_len = 128;
  uint64_t num_examples = 0, vocab_hash = 0, checksum = 0;
};

// Serialises examples (each at most seq_len tokens) into a shard's bytes.
std::string shard_bytes(const std::vector<PackedExample>& examples, uint32_t seq_len, uint32_t id_bytes,
                        uint64_t vocab_hash);
void write_shard(const std::string& path, const std::vector<PackedExample>& examples, uint32_t seq_len,
                 uint32_t id_bytes, uint64_t vocab_hash);

class Shard {
 public:
  // Reads and validates a whole shard (magic, version, sizes, checksum); errors name the file.
  static Shard load(const std::string& path);
  static Shard from_bytes(std::string bytes, const std::string& what);
  const ShardHeader& header() const { return h_; }
  size_t size() const { return (size_t)h_.num_examples; }
  // Fills row i of a batch: ids, token types and mask, each (T).
  void example(size_t i, int32_t* ids, int32_t* tt, int32_t* mask) const;

 private:
  ShardHeader h_;
  std::string bytes_;
  std::string what_;
};

}  // namespace electra

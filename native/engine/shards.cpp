// shards.cpp: shard serialisation and validation.
#include "engine/shards.h"

#include <cstring>

#include "engine/common.h"
#include "engine/fileio.h"

namespace electra {

static const char kMagic[8] = {'E', 'L', 'E', 'C', 'S', 'H', 'R', 'D'};
static constexpr size_t kHeader = 64;

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const uint8_t* p = (const uint8_t*)data;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

template <typename T>
static void put(std::string& s, size_t off, T v) {
  std::memcpy(&s[off], &v, sizeof(T));
}
template <typename T>
static T get(const std::string& s, size_t off) {
  T v;
  std::memcpy(&v, &s[off], sizeof(T));
  return v;
}

std::string shard_bytes(const std::vector<PackedExample>& examples, uint32_t T, uint32_t id_bytes, uint64_t vocab_hash) {
  if (id_bytes != 2 && id_bytes != 4) throw Error("internal: shard ids must be 2 or 4 bytes");
  if (T == 0 || T > 65535) throw Error("sequence length must be in 1..65535");
  const size_t rec = 4 + (size_t)T * id_bytes;
  std::string s(kHeader + rec * examples.size(), '\0');
  for (size_t i = 0; i < examples.size(); i++) {
    const PackedExample& e = examples[i];
    if (e.ids.size() > T) throw Error("internal: example longer than the sequence length");
    const size_t off = kHeader + i * rec;
    put<uint16_t>(s, off, (uint16_t)e.ids.size());
    put<uint16_t>(s, off + 2, (uint16_t)e.len_a);
    for (size_t t = 0; t < e.ids.size(); t++) {
      if (id_bytes == 2) {
        if ((uint32_t)e.ids[t] > 65535) throw Error("internal: token id does not fit 16 bits");
        put<uint16_t>(s, off + 4 + t * 2, (uint16_t)e.ids[t]);
      } else {
        put<uint32_t>(s, off + 4 + t * 4, (uint32_t)e.ids[t]);
      }
    }
  }
  std::memcpy(&s[0], kMagic, 8);
  put<uint32_t>(s, 8, 1);
  put<uint32_t>(s, 12, id_bytes);
  put<uint32_t>(s, 16, T);
  put<uint64_t>(s, 24, (uint64_t)examples.size());
  put<uint64_t>(s, 32, vocab_hash);
  put<uint64_t>(s, 40, fnv1a64(s.data() + kHeader, s.size() - kHeader));
  return s;
}

void write_shard(const std::string& path, const std::vector<PackedExample>& examples, uint32_t seq_len,
                 uint32_t id_bytes, uint64_t vocab_hash) {
  write_file_atomic(path, shard_bytes(examples, seq_len, id_bytes, vocab_hash));
}

Shard Shard::load(const std::string& path) { return from_bytes(read_file(path), path); }

Shard Shard::from_bytes(std::string bytes, const std::string& what) {
  const std::string fix = "; run `electra prepare` again to rebuild it";
  if (bytes.size() < kHeader || std::memcmp(bytes.data(), kMagic, 8) != 0)
    throw Error(what + ": not an electra shard (bad magic)" + fix);
  Shard s;
  s.what_ = what;
  s.h_.version = get<uint32_t>(bytes, 8);
  if (s.h_.version != 1)
    throw Error(what + ": shard format version " + std::to_string(s.h_.version) + " is not supported by this electra (1)");
  s.h_.id_bytes = get<uint32_t>(bytes, 12);
  s.h_.seq_len = get<uint32_t>(bytes, 16);
  s.h_.num_examples = get<uint64_t>(bytes, 24);
  s.h_.vocab_hash = get<uint64_t>(bytes, 32);
  s.h_.checksum = get<uint64_t>(bytes, 40);
  if ((s.h_.id_bytes != 2 && s.h_.id_bytes != 4) || s.h_.seq_len == 0 || s.h_.seq_len > 65535)
    throw Error(what + ": corrupt shard header" + fix);
  const uint64_t rec = 4 + (uint64_t)s.h_.seq_len * s.h_.id_bytes;
  if (s.h_.num_examples > (bytes.size() - kHeader) / rec || kHeader + s.h_.num_examples * rec != bytes.size())
    throw Error(what + ": truncated or padded shard (" + std::to_string(bytes.size()) + " bytes for " +
                std::to_string(s.h_.num_examples) + " examples)" + fix);
  if (fnv1a64(bytes.data() + kHeader, bytes.size() - kHeader) != s.h_.checksum)
    throw Error(what + ": checksum mismatch (the shard is damaged)" + fix);
  s.bytes_ = std::move(bytes);
  for (size_t i = 0; i < s.size(); i++) {  // validate every record once, so example() cannot misread
    const size_t off = kHeader + i * rec;
    const uint16_t len = get<uint16_t>(s.bytes_, off), la = get<uint16_t>(s.bytes_, off + 2);
    if (len < 2 || len > s.h_.seq_len || la < 2 || la > len)
      throw Error(what + ": corrupt record " + std::to_string(i) + fix);
  }
  return s;
}

void Shard::example(size_t i, int32_t* ids, int32_t* tt, int32_t* mask) const {
  const size_t T = h_.seq_len, rec = 4 + T * h_.id_bytes, off = kHeader + i * rec;
  const uint16_t len = get<uint16_t>(bytes_, off), la = get<uint16_t>(bytes_, off + 2);
  const char* p = bytes_.data() + off + 4;
  for (size_t t = 0; t < T; t++) {
    if (h_.id_bytes == 2) {
      uint16_t v;
      std::memcpy(&v, p + t * 2, 2);
      ids[t] = v;
    } else {
      uint32_t v;
      std::memcpy(&v, p + t * 4, 4);
      ids[t] = (int32_t)v;
    }
    if (tt) tt[t] = (t >= la && t < len) ? 1 : 0;
    if (mask) mask[t] = t < len ? 1 : 0;
  }
}

}  // namespace electra

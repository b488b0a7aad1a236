// unicode.cpp: lookups over the generated character tables (unicode_tables.cpp). The per-code-point
// flags live in a two-stage table (256-code-point blocks, identical blocks shared, ~40 KB) built once;
// the rarer data (decompositions, combining classes, lower-case maps) is binary-searched.
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "tokenizer/unicode_tables.h"

namespace electra::unicode {

namespace {

constexpr uint32_t kMaxCp = 0x10FFFF;
constexpr uint32_t kHangulFirst = 0xAC00, kHangulLast = 0xD7A3;

struct FlagTable {
  std::vector<uint16_t> stage1;  // cp >> 8 -> block
  std::vector<uint8_t> blocks;   // 256 flags per block

  FlagTable() {
    std::vector<uint8_t> full(kMaxCp + 1, 0);
    for (size_t i = 0; i < kClassRangeCount; i++)
      for (uint32_t c = kClassRanges[i].first; c <= kClassRanges[i].last; c++) full[c] |= kClassRanges[i].flags;
    for (size_t i = 0; i < kCjkRangeCount; i++)
      for (uint32_t c = kCjkRanges[i].first; c <= kCjkRanges[i].last; c++) full[c] |= kCjk;
    for (size_t i = 0; i < kDecompositionCount; i++) full[kDecompositions[i].cp] |= kDecomp;
    for (uint32_t c = kHangulFirst; c <= kHangulLast; c++) full[c] |= kDecomp;
    for (size_t i = 0; i < kCccRangeCount; i++)
      for (uint32_t c = kCccRanges[i].first; c <= kCccRanges[i].last; c++) full[c] |= kCcc;
    for (size_t i = 0; i < kLowerRunCount; i++)
      for (uint32_t k = 0; k < kLowerRuns[i].count; k++) full[kLowerRuns[i].first + k * kLowerRuns[i].stride] |= kLower;
    for (size_t i = 0; i < kLowerMultiCount; i++) full[kLowerMultis[i].cp] |= kLower;

    std::map<std::string, uint16_t> seen;
    stage1.resize((kMaxCp + 1) >> 8);
    for (size_t b = 0; b < stage1.size(); b++) {
      std::string key(reinterpret_cast<const char*>(&full[b << 8]), 256);
      auto it = seen.find(key);
      if (it == seen.end()) {
        uint16_t idx = static_cast<uint16_t>(blocks.size() >> 8);
        it = seen.emplace(key, idx).first;
        blocks.insert(blocks.end(), key.begin(), key.end());
      }
      stage1[b] = it->second;
    }
  }
};

const FlagTable& flag_table() {
  static const FlagTable table;  // thread-safe initialisation (C++11)
  return table;
}

}  // namespace

uint8_t flags(uint32_t cp) {
  if (cp > kMaxCp) return 0;
  const FlagTable& t = flag_table();
  return t.blocks[(static_cast<size_t>(t.stage1[cp >> 8]) << 8) | (cp & 0xFF)];
}

int decompose(uint32_t cp, uint32_t* out) {
  if (cp >= kHangulFirst && cp <= kHangulLast) {
    // Hangul syllables decompose algorithmically into leading consonant, vowel and optional trailing consonant.
    const uint32_t s = cp - kHangulFirst, t = s % 28;
    out[0] = 0x1100 + s / 588;
    out[1] = 0x1161 + (s % 588) / 28;
    if (t == 0) return 2;
    out[2] = 0x11A7 + t;
    return 3;
  }
  const Decomposition* end = kDecompositions + kDecompositionCount;
  const Decomposition* d =
      std::lower_bound(kDecompositions, end, cp, [](const Decomposition& x, uint32_t c) { return x.cp < c; });
  if (d == end || d->cp != cp) return 0;
  for (int i = 0; i < d->length; i++) out[i] = kDecompositionPool[d->offset + i];
  return d->length;
}

uint8_t ccc_rank(uint32_t cp) {
  const CccRange* end = kCccRanges + kCccRangeCount;
  const CccRange* r = std::upper_bound(kCccRanges, end, cp, [](uint32_t c, const CccRange& x) { return c < x.first; });
  if (r == kCccRanges) return 0;
  --r;
  return cp <= r->last ? r->rank : 0;
}

int to_lower(uint32_t cp, uint32_t* out) {
  for (size_t i = 0; i < kLowerMultiCount; i++) {
    if (kLowerMultis[i].cp == cp) {
      for (int k = 0; k < kLowerMultis[i].length; k++) out[k] = kLowerMultis[i].cps[k];
      return kLowerMultis[i].length;
    }
  }
  const LowerRun* end = kLowerRuns + kLowerRunCount;
  const LowerRun* r = std::upper_bound(kLowerRuns, end, cp, [](uint32_t c, const LowerRun& x) { return c < x.first; });
  out[0] = cp;
  if (r == kLowerRuns) return 1;
  --r;
  const uint32_t off = cp - r->first;
  if (off % r->stride == 0 && off / r->stride < r->count) out[0] = static_cast<uint32_t>(static_cast<int64_t>(cp) + r->delta);
  return 1;
}

const char* unicode_version() { return kUnicodeVersion; }

}  // namespace electra::unicode

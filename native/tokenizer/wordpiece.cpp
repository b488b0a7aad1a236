// wordpiece.cpp: the BERT tokenizer described in wordpiece.h: vocabulary loading, the streaming
// normalizer / pre-tokenizer (one pass over the UTF-8 bytes, ASCII fast path), WordPiece matching with
// an allocation-free hash map, and the multithreaded line / batch encoders.
#include "tokenizer/wordpiece.h"

#include <omp.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "engine/common.h"
#include "engine/info.h"
#include "tokenizer/unicode_tables.h"

namespace electra {

namespace {

// ---- a string -> id map that looks up (pointer, length, hash) without allocating ------------------

// FNV-1a: computed incrementally, so one pass over a word gives the hash of each of its prefixes.
constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;
inline uint64_t fnv_step(uint64_t h, uint8_t b) { return (h ^ b) * kFnvPrime; }
inline uint64_t fnv(std::string_view s) {
  uint64_t h = kFnvOffset;
  for (unsigned char c : s) h = fnv_step(h, c);
  return h;
}

class PieceMap {
 public:
  void build(const std::vector<std::pair<std::string_view, int32_t>>& entries) {
    int bits = 4;
    while ((size_t{1} << bits) < entries.size() * 2) bits++;
    shift_ = 64 - bits;
    mask_ = (size_t{1} << bits) - 1;
    slots_.assign(size_t{1} << bits, Slot{0, 0, 0, -1});
    arena_.clear();
    max_len_ = 0;
    for (const auto& [key, id] : entries) {
      uint64_t h = fnv(key);
      size_t i = slot_of(h);
      while (slots_[i].id >= 0) i = (i + 1) & mask_;
      slots_[i] = Slot{static_cast<uint32_t>(h), static_cast<uint32_t>(arena_.size()), static_cast<uint32_t>(key.size()), id};
      arena_.append(key);
      max_len_ = std::max(max_len_, key.size());
    }
  }
  int32_t find(const char* p, size_t n, uint64_t h) const {
    const uint32_t h32 = static_cast<uint32_t>(h);
    for (size_t i = slot_of(h);; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.id < 0) return -1;
      if (s.hash == h32 && s.len == n && std::memcmp(arena_.data() + s.off, p, n) == 0) return s.id;
    }
  }
  int32_t find(std::string_view s) const { return find(s.data(), s.size(), fnv(s)); }
  size_t max_len() const { return max_len_; }

 private:
  struct Slot {
    uint32_t hash;  // low half of the key's hash
    uint32_t off;   // key bytes in arena_
    uint32_t len;
    int32_t id;     // -1: empty slot
  };
  size_t slot_of(uint64_t h) const { return static_cast<size_t>((h * 0x9E3779B97F4A7C15ULL) >> shift_); }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  int shift_ = 60;
  size_t max_len_ = 0;
};

// ---- character classes -----------------------------------------------------------------------------

enum AsciiClass : uint8_t { kWordChar = 0, kSpaceChar = 1, kPunctChar = 2, kDropChar = 3 };

struct AsciiTables {
  std::array<uint8_t, 128> cls{};
  std::array<uint8_t, 128> lower{};
  AsciiTables() {
    for (uint32_t c = 0; c < 128; c++) {
      uint8_t f = unicode::flags(c);
      cls[c] = (f & unicode::kDrop) ? kDropChar : (f & unicode::kSpace) ? kSpaceChar : (f & unicode::kPunct) ? kPunctChar : kWordChar;
      lower[c] = static_cast<uint8_t>(c >= 'A' && c <= 'Z' ? c + 32 : c);
    }
  }
};
const AsciiTables& ascii() {
  static const AsciiTables t;
  return t;
}

// Decodes the code point at p (p < end, *p >= 0x80) as WHATWG's UTF-8 decoder does, which is what
// Node's Buffer.toString() does: an invalid sequence's longest valid prefix (at least one byte) becomes
// one U+FFFD, and the byte that broke it starts the next code point. Returns the bytes consumed.
inline size_t decode_utf8(const uint8_t* p, const uint8_t* end, uint32_t& cp, bool& invalid) {
  const uint8_t b0 = p[0];
  int need;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
    cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    cp = 0xFFFD;
    invalid = true;
    return 1;
  }
  size_t i = 1;
  for (; i <= static_cast<size_t>(need); i++) {
    if (p + i >= end || p[i] < lo || p[i] > hi) {
      cp = 0xFFFD;
      invalid = true;
      return i;
    }
    cp = (cp << 6) | (p[i] & 0x3F);
    lo = 0x80;
    hi = 0xBF;
  }
  invalid = false;
  return i;
}

inline void append_utf8(std::string& s, uint32_t cp) {
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    s.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    s.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// ---- normalizer + pre-tokenizer: one pass over the bytes, words to a sink ------------------------------

// Streams `text` through cleaning, CJK splitting, (uncased) NFD + mark stripping + lower-casing, and
// whitespace / punctuation splitting, calling on_word(bytes, length, code points) for each word.
// Canonical ordering: NFD sorts each run of non-starters by combining class. Marks are dropped anyway, so
// only the surviving non-starters (a few spacing marks) are held back, then sorted and flushed when the
// run ends (at a starter, including a dropped one, or the end of the text).
template <class OnWord>
class Splitter {
 public:
  Splitter(bool lower, std::string& word, std::vector<std::pair<uint32_t, uint8_t>>& pending, OnWord& on_word)
      : lower_(lower), word_(word), pending_(pending), on_word_(on_word), a_(ascii()) {}

  // Returns the number of invalid UTF-8 sequences met.
  uint64_t run(std::string_view text) {
    uint64_t invalid_count = 0;
    const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
    const uint8_t* end = p + text.size();
    word_.clear();
    nchars_ = 0;
    pending_.clear();
    while (p < end) {
      const uint8_t b = *p;
      if (b < 0x80) {
        const uint8_t cls = a_.cls[b];
        if (cls == kDropChar) {  // removed before normalization: does not end a run of marks
          p++;
          continue;
        }
        if (!pending_.empty()) flush_pending();
        if (cls == kWordChar) {
          const uint8_t* q = p + 1;
          while (q < end && *q < 0x80 && a_.cls[*q] == kWordChar) q++;
          if (lower_) {
            for (const uint8_t* r = p; r < q; r++) word_.push_back(static_cast<char>(a_.lower[*r]));
          } else {
            word_.append(reinterpret_cast<const char*>(p), q - p);
          }
          nchars_ += q - p;
          p = q;
          continue;
        }
        if (cls == kSpaceChar) end_word();
        else single(b);
        p++;
        continue;
      }
      uint32_t cp;
      bool bad;
      p += decode_utf8(p, end, cp, bad);
      if (bad) invalid_count++;
      const uint8_t f = unicode::flags(cp);
      if (f & unicode::kDrop) continue;
      if (f & unicode::kSpace) {
        flush_pending();
        end_word();
        continue;
      }
      if (f & unicode::kCjk) {  // surrounded by spaces in the reference: a word of its own
        flush_pending();
        end_word();
        normalize(cp, f);
        flush_pending();
        end_word();
        continue;
      }
      normalize(cp, f);
    }
    flush_pending();
    end_word();
    return invalid_count;
  }

 private:
  void end_word() {
    if (!word_.empty()) {
      on_word_(word_.data(), word_.size(), nchars_);
      word_.clear();
      nchars_ = 0;
    }
  }
  void single(uint32_t cp) {  // a punctuation character: a word of its own
    end_word();
    append_utf8(word_, cp);
    nchars_ = 1;
    end_word();
  }
  // A normalized character reaches the pre-tokenizer.
  void split(uint32_t c) {
    if (c < 0x80) {
      switch (a_.cls[c]) {
        case kWordChar: word_.push_back(static_cast<char>(c)); nchars_++; break;
        case kSpaceChar: end_word(); break;
        case kPunctChar: single(c); break;
        default: break;
      }
      return;
    }
    const uint8_t f = unicode::flags(c);
    if (f & unicode::kSpace) {
      end_word();
    } else if (f & unicode::kPunct) {
      single(c);
    } else {
      append_utf8(word_, c);
      nchars_++;
    }
  }
  // After decomposition and mark stripping: lower-case, then split.
  void lower_and_split(uint32_t c) {
    if (unicode::flags(c) & unicode::kLower) {
      uint32_t out[unicode::kMaxLower];
      const int n = unicode::to_lower(c, out);
      for (int i = 0; i < n; i++) split(out[i]);
    } else {
      split(c);
    }
  }
  // A cleaned character (not ASCII): cased: as is; uncased: NFD, drop Mn, lower-case.
  void normalize(uint32_t cp, uint8_t f) {
    if (!lower_) {
      split(cp);
      return;
    }
    uint32_t d[unicode::kMaxDecomposition];
    int n = 1;
    d[0] = cp;
    if (f & unicode::kDecomp) n = unicode::decompose(cp, d);
    for (int i = 0; i < n; i++) {
      const uint32_t c = d[i];
      const uint8_t fc = (f & unicode::kDecomp) ? unicode::flags(c) : f;
      if (fc & unicode::kCcc) {
        if (!(fc & unicode::kMn)) pending_.emplace_back(c, unicode::ccc_rank(c));
      } else {
        flush_pending();
        if (!(fc & unicode::kMn)) lower_and_split(c);
      }
    }
  }
  void flush_pending() {
    if (pending_.empty()) return;
    std::stable_sort(pending_.begin(), pending_.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
    for (const auto& pc : pending_) lower_and_split(pc.first);
    pending_.clear();
  }

  const bool lower_;
  std::string& word_;
  std::vector<std::pair<uint32_t, uint8_t>>& pending_;
  OnWord& on_word_;
  const AsciiTables& a_;
  size_t nchars_ = 0;
};

}  // namespace

// ---- the tokenizer -----------------------------------------------------------------------------------

struct WordPieceTokenizer::Impl {
  std::vector<std::string> tokens;  // id -> entry
  PieceMap first;                   // entries, for the start of a word
  PieceMap cont;                    // entries that start with "##", without it, for the rest of a word
  bool lower = true;
  int32_t unk = -1, cls = -1, sep = -1, mask = -1, pad = -1;
  size_t max_chars = 100;  // longer words are [UNK] (BERT's max_input_chars_per_word)
  std::string source;
};

namespace {

// Per-thread scratch space, reused across texts.
struct Encoder {
  const WordPieceTokenizer::Impl& t;
  std::string word;
  std::vector<std::pair<uint32_t, uint8_t>> pending;
  std::vector<uint64_t> prefix_hash;

  explicit Encoder(const WordPieceTokenizer::Impl& impl) : t(impl) {
    prefix_hash.resize(std::max(t.first.max_len(), t.cont.max_len()) + 1);
  }

  // Greedy longest-match-first over the word's bytes, candidate ends on code point boundaries.
  void wordpiece(const char* w, size_t len, size_t nchars, std::vector<int32_t>& ids, EncodeStats& st) {
    if (nchars > t.max_chars) {
      ids.push_back(t.unk);
      st.unknown++;
      return;
    }
    const size_t before = ids.size();
    size_t start = 0;
    while (start < len) {
      const PieceMap& m = start == 0 ? t.first : t.cont;
      const size_t maxl = std::min(len - start, m.max_len());
      uint64_t h = kFnvOffset;
      for (size_t k = 0; k < maxl; k++) prefix_hash[k + 1] = h = fnv_step(h, static_cast<uint8_t>(w[start + k]));
      int32_t id = -1;
      size_t n = maxl;
      for (; n > 0; n--) {
        if (start + n < len && (static_cast<uint8_t>(w[start + n]) & 0xC0) == 0x80) continue;  // mid code point
        id = m.find(w + start, n, prefix_hash[n]);
        if (id >= 0) break;
      }
      if (id < 0) {
        ids.resize(before);
        ids.push_back(t.unk);
        st.unknown++;
        return;
      }
      ids.push_back(id);
      start += n;
    }
  }

  void encode(std::string_view text, std::vector<int32_t>& ids, EncodeStats& st) {
    const size_t before = ids.size();
    auto on_word = [&](const char* w, size_t len, size_t nchars) { wordpiece(w, len, nchars, ids, st); };
    Splitter<decltype(on_word)> splitter(t.lower, word, pending, on_word);
    st.invalid_utf8 += splitter.run(text);
    st.bytes += text.size();
    st.tokens += ids.size() - before;
  }
};

int resolve_threads(int threads) { return threads > 0 ? threads : std::max(1, get_num_threads()); }

// Splits [0, n) into about `parts` pieces whose ends fall just after a '\n' (or at n).
std::vector<size_t> line_aligned_cuts(std::string_view text, size_t parts) {
  std::vector<size_t> cuts{0};
  const size_t n = text.size();
  for (size_t i = 1; i < parts; i++) {
    size_t at = std::max(cuts.back(), n * i / parts);
    const void* nl = at < n ? std::memchr(text.data() + at, '\n', n - at) : nullptr;
    if (!nl) break;
    at = static_cast<const char*>(nl) - text.data() + 1;
    if (at > cuts.back() && at < n) cuts.push_back(at);
  }
  cuts.push_back(n);
  return cuts;
}

// Calls fn(line) for each '\n'-separated line of text (a last line without '\n' counts).
template <class F>
void for_each_line(std::string_view text, F&& fn) {
  size_t pos = 0;
  const size_t n = text.size();
  while (pos < n) {
    const void* nl = std::memchr(text.data() + pos, '\n', n - pos);
    const size_t stop = nl ? static_cast<const char*>(nl) - text.data() : n;
    fn(text.substr(pos, stop - pos));
    pos = stop + 1;
  }
}

}  // namespace

WordPieceTokenizer::WordPieceTokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
WordPieceTokenizer::WordPieceTokenizer(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer& WordPieceTokenizer::operator=(WordPieceTokenizer&&) noexcept = default;
WordPieceTokenizer::~WordPieceTokenizer() = default;

WordPieceTokenizer WordPieceTokenizer::from_vocab_file(const std::string& path, bool lower_case) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error("cannot read the vocabulary " + path + ": " + std::strerror(errno));
  std::ostringstream ss;
  ss << f.rdbuf();
  if (f.bad()) throw Error("cannot read the vocabulary " + path + ": read error");
  std::string data = ss.str();
  if (data.empty()) throw Error("the vocabulary " + path + " is empty");
  std::vector<std::string> tokens;
  size_t pos = data.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // a UTF-8 byte-order mark is not part of line 1
  while (pos < data.size()) {
    size_t nl = data.find('\n', pos);
    if (nl == std::string::npos) nl = data.size();
    size_t stop = nl;
    if (stop > pos && data[stop - 1] == '\r') stop--;
    tokens.emplace_back(data, pos, stop - pos);
    pos = nl + 1;
  }
  return from_tokens(tokens, lower_case, path);
}

WordPieceTokenizer WordPieceTokenizer::from_tokens(const std::vector<std::string>& tokens, bool lower_case,
                                                   const std::string& source) {
  auto impl = std::make_unique<Impl>();
  impl->tokens = tokens;
  impl->lower = lower_case;
  impl->source = source;
  if (tokens.size() >= static_cast<size_t>(INT32_MAX)) throw Error(source + ": too many entries");
  std::unordered_map<std::string_view, size_t> line_of;
  std::vector<std::pair<std::string_view, int32_t>> first, cont;
  for (size_t i = 0; i < impl->tokens.size(); i++) {
    std::string_view tok = impl->tokens[i];
    if (tok.empty()) continue;  // an empty line keeps its id but can never match
    auto [it, fresh] = line_of.emplace(tok, i + 1);
    if (!fresh) {
      throw Error(source + ":" + std::to_string(i + 1) + ": duplicate entry \"" + std::string(tok) +
                  "\" (already on line " + std::to_string(it->second) + ")");
    }
    first.emplace_back(tok, static_cast<int32_t>(i));
    if (tok.size() > 2 && tok.compare(0, 2, "##") == 0) cont.emplace_back(tok.substr(2), static_cast<int32_t>(i));
  }
  impl->first.build(first);
  impl->cont.build(cont);
  std::string missing;
  auto special = [&](const char* name, int32_t& id) {
    id = impl->first.find(name);
    if (id < 0) missing += (missing.empty() ? "" : ", ") + std::string(name);
  };
  special("[UNK]", impl->unk);
  special("[CLS]", impl->cls);
  special("[SEP]", impl->sep);
  special("[MASK]", impl->mask);
  special("[PAD]", impl->pad);
  if (!missing.empty()) {
    throw Error(source + ": the vocabulary lacks " + missing +
                " (a BERT vocabulary has [PAD], [UNK], [CLS], [SEP] and [MASK], one entry per line)");
  }
  return WordPieceTokenizer(std::move(impl));
}

void WordPieceTokenizer::encode(std::string_view text, std::vector<int32_t>& ids, EncodeStats* stats) const {
  Encoder enc(*impl_);
  EncodeStats st;
  enc.encode(text, ids, st);
  if (stats) stats->add(st);
}

std::vector<std::string> WordPieceTokenizer::pre_tokenize(std::string_view text) const {
  std::vector<std::string> words;
  std::string word;
  std::vector<std::pair<uint32_t, uint8_t>> pending;
  auto on_word = [&](const char* w, size_t len, size_t) { words.emplace_back(w, len); };
  Splitter<decltype(on_word)> splitter(impl_->lower, word, pending, on_word);
  splitter.run(text);
  return words;
}

uint64_t for_each_word(std::string_view text, bool lower_case, WordSink sink, void* ctx) {
  std::string word;
  std::vector<std::pair<uint32_t, uint8_t>> pending;
  auto on_word = [&](const char* w, size_t len, size_t) { sink(ctx, w, len); };
  Splitter<decltype(on_word)> splitter(lower_case, word, pending, on_word);
  return splitter.run(text);
}

void WordPieceTokenizer::encode_lines(std::string_view text, std::vector<int32_t>& ids, std::vector<uint64_t>& offsets,
                                      int threads, EncodeStats* stats) const {
  const int nt = resolve_threads(threads);
  const size_t parts = nt == 1 || text.size() < (64u << 10) ? 1 : static_cast<size_t>(nt) * 4;
  const std::vector<size_t> cuts = line_aligned_cuts(text, parts);
  const size_t np = cuts.size() - 1;
  std::vector<std::vector<int32_t>> part_ids(np);
  std::vector<std::vector<uint64_t>> part_counts(np);
  std::vector<EncodeStats> part_stats(np);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (np > 1)
  for (size_t i = 0; i < np; i++) {
    Encoder enc(*impl_);
    std::vector<int32_t>& out = part_ids[i];
    for_each_line(text.substr(cuts[i], cuts[i + 1] - cuts[i]), [&](std::string_view line) {
      const size_t before = out.size();
      enc.encode(line, out, part_stats[i]);
      part_counts[i].push_back(out.size() - before);
      part_stats[i].lines++;
    });
    part_stats[i].bytes = cuts[i + 1] - cuts[i];  // newlines included
  }
  ids.clear();
  offsets.assign(1, 0);
  EncodeStats st;
  for (size_t i = 0; i < np; i++) {
    ids.insert(ids.end(), part_ids[i].begin(), part_ids[i].end());
    for (uint64_t c : part_counts[i]) offsets.push_back(offsets.back() + c);
    st.add(part_stats[i]);
  }
  if (stats) stats->add(st);
}

void WordPieceTokenizer::encode_batch(const std::vector<std::string_view>& texts, std::vector<int32_t>& ids,
                                      std::vector<uint64_t>& offsets, int threads, EncodeStats* stats) const {
  size_t total = 0;
  for (auto t : texts) total += t.size();
  const int nt = resolve_threads(threads);
  const size_t parts = std::min(texts.size(), nt == 1 || total < (64u << 10) ? size_t{1} : static_cast<size_t>(nt) * 4);
  std::vector<std::vector<int32_t>> part_ids(parts);
  std::vector<std::vector<uint64_t>> part_counts(parts);
  std::vector<EncodeStats> part_stats(parts);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (parts > 1)
  for (size_t i = 0; i < parts; i++) {
    Encoder enc(*impl_);
    const size_t a = texts.size() * i / parts, b = texts.size() * (i + 1) / parts;
    for (size_t k = a; k < b; k++) {
      const size_t before = part_ids[i].size();
      enc.encode(texts[k], part_ids[i], part_stats[i]);
      part_counts[i].push_back(part_ids[i].size() - before);
    }
  }
  ids.clear();
  offsets.assign(1, 0);
  EncodeStats st;
  for (size_t i = 0; i < parts; i++) {
    ids.insert(ids.end(), part_ids[i].begin(), part_ids[i].end());
    for (uint64_t c : part_counts[i]) offsets.push_back(offsets.back() + c);
    st.add(part_stats[i]);
  }
  if (stats) stats->add(st);
}

size_t WordPieceTokenizer::vocab_size() const { return impl_->tokens.size(); }
const std::string& WordPieceTokenizer::id_to_token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= impl_->tokens.size()) {
    throw Error("id " + std::to_string(id) + " is outside the vocabulary (" + std::to_string(impl_->tokens.size()) +
                " entries, " + impl_->source + ")");
  }
  return impl_->tokens[id];
}
int32_t WordPieceTokenizer::token_to_id(std::string_view token) const {
  return token.empty() ? -1 : impl_->first.find(token);
}
bool WordPieceTokenizer::lower_case() const { return impl_->lower; }
int32_t WordPieceTokenizer::unk_id() const { return impl_->unk; }
int32_t WordPieceTokenizer::cls_id() const { return impl_->cls; }
int32_t WordPieceTokenizer::sep_id() const { return impl_->sep; }
int32_t WordPieceTokenizer::mask_id() const { return impl_->mask; }
int32_t WordPieceTokenizer::pad_id() const { return impl_->pad; }

}  // namespace electra

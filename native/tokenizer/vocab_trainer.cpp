// vocab_trainer.cpp: the word counter (feeds cut after whitespace, counted on several threads into
// per-thread hash maps, then merged) and the WordPiece trainer described in vocab_trainer.h (BPE merges
// with incrementally updated pair counts and a priority queue).
#include "tokenizer/vocab_trainer.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

#include "engine/common.h"
#include "engine/info.h"
#include "tokenizer/wordpiece.h"

namespace electra {

namespace {

// ---- counting ------------------------------------------------------------------------------------------

inline uint64_t hash_bytes(const char* p, size_t n) {  // FNV-1a, then a final mix for the slot index
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ static_cast<uint8_t>(p[i])) * 0x100000001b3ULL;
  return h ^ (h >> 29);
}

// word -> count, open addressing; keys live in one arena. Grows at half full.
class CountMap {
 public:
  CountMap() { rehash(1024); }
  void add(const char* w, size_t n, uint64_t h, uint64_t count) {
    if ((used_ + 1) * 2 > slots_.size()) rehash(slots_.size() * 2);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.count == 0) {
        s = Slot{h, arena_.size(), static_cast<uint32_t>(n), count};
        arena_.append(w, n);
        used_++;
        return;
      }
      if (s.hash == h && s.len == n && std::memcmp(arena_.data() + s.off, w, n) == 0) {
        s.count += count;
        return;
      }
    }
  }
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.count) f(arena_.data() + s.off, static_cast<size_t>(s.len), s.hash, s.count);
  }
  size_t size() const { return used_; }
  void clear() {
    if (slots_.size() > 4096 && used_ * 8 < slots_.size()) slots_.assign(4096, Slot{});
    else std::fill(slots_.begin(), slots_.end(), Slot{});
    mask_ = slots_.size() - 1;
    arena_.clear();
    used_ = 0;
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t off = 0;
    uint32_t len = 0;
    uint64_t count = 0;  // 0: empty
  };
  void rehash(size_t n) {
    std::vector<Slot> old(n);
    old.swap(slots_);
    mask_ = n - 1;
    for (const Slot& s : old) {
      if (!s.count) continue;
      size_t i = s.hash & mask_;
      while (slots_[i].count) i = (i + 1) & mask_;
      slots_[i] = s;
    }
  }
  std::vector<Slot> slots_;
  std::string arena_;
  size_t mask_ = 0;
  size_t used_ = 0;
};

inline bool ascii_space(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

// Where to cut so that the rest of the text can wait for the next feed: just after the last '\n', else
// after the last ASCII whitespace; npos when there is none. Cutting after whitespace never changes the
// words (whitespace ends a word and leaves the normalizer with nothing pending).
size_t last_cut(std::string_view t) {
  size_t nl = t.rfind('\n');
  if (nl != std::string_view::npos) return nl + 1;
  for (size_t i = t.size(); i > 0; i--)
    if (ascii_space(t[i - 1])) return i;
  return std::string_view::npos;
}

// Splits t into about `parts` pieces that each end just after whitespace (or at the end).
std::vector<size_t> space_aligned_cuts(std::string_view t, size_t parts) {
  std::vector<size_t> cuts{0};
  const size_t n = t.size();
  for (size_t i = 1; i < parts; i++) {
    size_t at = std::max(cuts.back(), n * i / parts);
    const void* nl = at < n ? std::memchr(t.data() + at, '\n', std::min<size_t>(n - at, n / parts + 1)) : nullptr;
    if (nl) {
      at = static_cast<const char*>(nl) - t.data() + 1;
    } else {
      while (at < n && !ascii_space(t[at])) at++;
      if (at < n) at++;
    }
    if (at > cuts.back() && at < n) cuts.push_back(at);
  }
  cuts.push_back(n);
  return cuts;
}

struct CountSink {
  CountMap* map;
  uint64_t words = 0;
  static void call(void* ctx, const char* w, size_t n) {
    auto* s = static_cast<CountSink*>(ctx);
    s->map->add(w, n, hash_bytes(w, n), 1);
    s->words++;
  }
};

}  // namespace

struct WordCounter::Impl {
  bool lower = true;
  int threads = 1;
  CountMap total;
  std::vector<CountMap> local;  // one per thread
  std::string held;             // text after the last whitespace of the previous feed
  WordCountStats st;

  // Counts complete text (it ends at whitespace or at the end of an input).
  void count(std::string_view t) {
    if (t.empty()) return;
    const size_t parts = threads == 1 || t.size() < (256u << 10) ? 1 : static_cast<size_t>(threads) * 4;
    const std::vector<size_t> cuts = space_aligned_cuts(t, parts);
    const size_t np = cuts.size() - 1;
    const int nt = static_cast<int>(std::min<size_t>(np, static_cast<size_t>(threads)));
    if (local.size() < static_cast<size_t>(nt)) local.resize(nt);
    std::vector<uint64_t> words(np, 0), invalid(np, 0);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (nt > 1)
    for (size_t i = 0; i < np; i++) {
      CountSink sink{&local[nt > 1 ? omp_get_thread_num() : 0]};
      invalid[i] = for_each_word(t.substr(cuts[i], cuts[i + 1] - cuts[i]), lower, &CountSink::call, &sink);
      words[i] = sink.words;
    }
    for (int k = 0; k < nt; k++) {
      local[k].for_each([&](const char* w, size_t n, uint64_t h, uint64_t c) { total.add(w, n, h, c); });
      local[k].clear();
    }
    for (size_t i = 0; i < np; i++) {
      st.words += words[i];
      st.invalid_utf8 += invalid[i];
    }
  }
};

WordCounter::WordCounter(bool lower_case, int threads) : impl_(std::make_unique<Impl>()) {
  impl_->lower = lower_case;
  impl_->threads = threads > 0 ? threads : std::max(1, get_num_threads());
}
WordCounter::WordCounter(WordCounter&&) noexcept = default;
WordCounter& WordCounter::operator=(WordCounter&&) noexcept = default;
WordCounter::~WordCounter() = default;

void WordCounter::feed(std::string_view bytes) {
  Impl& m = *impl_;
  m.st.bytes += bytes.size();
  const size_t cut = last_cut(bytes);
  if (cut == std::string_view::npos) {  // no whitespace at all: wait for more
    m.held.append(bytes);
    return;
  }
  size_t from = 0;
  if (!m.held.empty()) {  // the held text and this feed up to its first whitespace make one piece
    while (from < cut && !ascii_space(bytes[from])) from++;
    m.held.append(bytes.substr(0, from));
    m.count(m.held);
    m.held.clear();
  }
  m.count(bytes.substr(from, cut - from));
  m.held.assign(bytes.substr(cut));
}

void WordCounter::end_input() {
  Impl& m = *impl_;
  m.count(m.held);
  m.held.clear();
}

WordCountStats WordCounter::stats() const {
  WordCountStats s = impl_->st;
  s.distinct = impl_->total.size();
  return s;
}

std::vector<std::pair<std::string, uint64_t>> WordCounter::counts() {
  end_input();
  std::vector<std::pair<std::string, uint64_t>> out;
  out.reserve(impl_->total.size());
  impl_->total.for_each([&](const char* w, size_t n, uint64_t, uint64_t c) { out.emplace_back(std::string(w, n), c); });
  std::sort(out.begin(), out.end());
  return out;
}

// ---- training ------------------------------------------------------------------------------------------

namespace {

// Next code point of valid UTF-8 (the pre-tokenizer's words are valid UTF-8).
inline uint32_t next_cp(const std::string& s, size_t& i) {
  const uint8_t b = static_cast<uint8_t>(s[i]);
  if (b < 0x80) {
    i += 1;
    return b;
  }
  int n = b >= 0xF0 ? 3 : b >= 0xE0 ? 2 : 1;
  uint32_t cp = b & (0x3F >> n);
  for (int k = 1; k <= n && i + k < s.size(); k++) cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
  i += n + 1;
  return cp;
}

std::string utf8(uint32_t cp) {
  std::string s;
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
  return s;
}

inline uint64_t pair_key(uint32_t a, uint32_t b) { return (static_cast<uint64_t>(a) << 32) | b; }
inline uint32_t left_of(uint64_t key) { return static_cast<uint32_t>(key >> 32); }
inline uint32_t right_of(uint64_t key) { return static_cast<uint32_t>(key); }

// A queued merge: the pair, its count when queued, and the words to merge it in (sorted, unique).
struct Entry {
  uint64_t count;
  uint64_t pair;  // (left id << 32) | right id: comparing keys compares (left, right)
  uint64_t seq;   // queue order, for ties between entries of the same pair
  std::vector<uint32_t> words;
};
// Heap order (std::push_heap's "less": a below b): higher count first, then the smaller pair, then the
// entry queued first.
inline bool below(const Entry& a, const Entry& b) {
  if (a.count != b.count) return a.count < b.count;
  if (a.pair != b.pair) return a.pair > b.pair;
  return a.seq > b.seq;
}

// The words as symbol ids, in one array; word w is syms[start[w], start[w] + len[w]) and shrinks in place.
struct Words {
  std::vector<uint32_t> syms;
  std::vector<uint64_t> start;
  std::vector<uint32_t> len;
  std::vector<uint64_t> count;
};

}  // namespace

VocabResult train_wordpiece_vocab(const std::vector<std::pair<std::string, uint64_t>>& word_counts,
                                  const VocabTrainerOptions& opt) {
  VocabResult r;
  std::vector<std::string>& id_to_word = r.tokens;
  std::unordered_map<std::string, uint32_t> word_to_id;
  auto add_entry = [&](const std::string& s) -> uint32_t {
    auto it = word_to_id.find(s);
    if (it != word_to_id.end()) return it->second;
    const uint32_t id = static_cast<uint32_t>(id_to_word.size());
    id_to_word.push_back(s);
    word_to_id.emplace(s, id);
    return id;
  };

  // 1. special tokens
  for (const std::string& s : opt.special_tokens) {
    if (s.empty()) throw Error("a special token is empty");
    if (word_to_id.count(s)) throw Error("the special token " + s + " is given twice");
    add_entry(s);
  }
  r.special = id_to_word.size();

  // 2. the alphabet: characters weighted by word frequency; initial_alphabet always counts as most frequent
  std::unordered_map<uint32_t, uint64_t> char_count;
  for (const auto& [w, c] : word_counts) {
    for (size_t i = 0; i < w.size();) char_count[next_cp(w, i)] += c;
  }
  for (uint32_t cp : opt.initial_alphabet) char_count[cp] = UINT64_MAX;
  std::vector<std::pair<uint32_t, uint64_t>> kept(char_count.begin(), char_count.end());
  if (opt.limit_alphabet > 0 && kept.size() > opt.limit_alphabet) {
    std::sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;  // most frequent first, ties: lower code point
    });
    kept.resize(opt.limit_alphabet);
  }
  std::sort(kept.begin(), kept.end());
  const size_t before_alphabet = id_to_word.size();
  for (const auto& kc : kept) add_entry(utf8(kc.first));
  r.alphabet = id_to_word.size() - before_alphabet;

  // Single characters that are entries (the alphabet, and any one-character special token), as the
  // reference looks them up.
  std::unordered_map<uint32_t, uint32_t> first_id;
  for (size_t id = 0; id < id_to_word.size(); id++) {
    size_t i = 0;
    const uint32_t cp = next_cp(id_to_word[id], i);
    if (i == id_to_word[id].size()) first_id.emplace(cp, static_cast<uint32_t>(id));
  }

  // 3. "##c" for each such character met after the start of a word (the start: the word's first character,
  //    kept or not)
  std::unordered_set<uint32_t> cont_seen;
  for (const auto& [w, c] : word_counts) {
    size_t i = 0;
    next_cp(w, i);
    while (i < w.size()) {
      const uint32_t cp = next_cp(w, i);
      if (first_id.count(cp)) cont_seen.insert(cp);
    }
  }
  std::vector<uint32_t> cont_order;
  for (const std::string& s : opt.continuation_order) {
    if (s.size() < 3 || s.compare(0, 2, "##") != 0) continue;
    size_t i = 2;
    const uint32_t cp = next_cp(s, i);
    if (i == s.size() && cont_seen.erase(cp)) cont_order.push_back(cp);
  }
  std::vector<uint32_t> rest(cont_seen.begin(), cont_seen.end());
  std::sort(rest.begin(), rest.end());
  cont_order.insert(cont_order.end(), rest.begin(), rest.end());
  std::unordered_map<uint32_t, uint32_t> cont_id;
  const size_t before_cont = id_to_word.size();
  for (uint32_t cp : cont_order) cont_id.emplace(cp, add_entry("##" + utf8(cp)));
  r.continuation = id_to_word.size() - before_cont;

  if (id_to_word.size() > opt.vocab_size) {
    throw Error("a vocabulary of " + std::to_string(opt.vocab_size) + " entries cannot hold the " +
                std::to_string(r.special) + " special tokens, " + std::to_string(r.alphabet) + " characters and " +
                std::to_string(r.continuation) + " \"##\" characters that the corpus needs (" +
                std::to_string(id_to_word.size()) + "); raise the vocabulary size or limit the alphabet");
  }

  // The words as symbols.
  Words W;
  W.start.reserve(word_counts.size());
  W.len.reserve(word_counts.size());
  W.count.reserve(word_counts.size());
  for (const auto& [w, c] : word_counts) {
    W.start.push_back(W.syms.size());
    size_t i = 0;
    bool first = true;
    while (i < w.size()) {
      const uint32_t cp = next_cp(w, i);
      if (first_id.count(cp)) W.syms.push_back(first ? first_id[cp] : cont_id.at(cp));
      first = false;
    }
    W.len.push_back(static_cast<uint32_t>(W.syms.size() - W.start.back()));
    W.count.push_back(c);
  }

  // 4. pair counts, and the words each pair occurs in
  std::unordered_map<uint64_t, int64_t> pair_count;
  pair_count.reserve(W.syms.size() / 4 + 1024);
  std::vector<std::pair<uint64_t, uint32_t>> occurs;  // (pair, word), to be grouped by pair
  occurs.reserve(W.syms.size());
  for (uint32_t w = 0; w < W.start.size(); w++) {
    const uint32_t* s = W.syms.data() + W.start[w];
    for (uint32_t k = 0; k + 1 < W.len[w]; k++) {
      const uint64_t p = pair_key(s[k], s[k + 1]);
      pair_count[p] += static_cast<int64_t>(W.count[w]);
      occurs.emplace_back(p, w);
    }
  }
  std::vector<Entry> heap;
  uint64_t seq = 0;
  // Groups (pair, word) records by pair and queues each pair whose count is positive, in pair order.
  auto queue_pairs = [&](std::vector<std::pair<uint64_t, uint32_t>>& recs) {
    std::sort(recs.begin(), recs.end());
    for (size_t i = 0; i < recs.size();) {
      size_t j = i;
      Entry e{0, recs[i].first, 0, {}};
      for (; j < recs.size() && recs[j].first == e.pair; j++)
        if (e.words.empty() || e.words.back() != recs[j].second) e.words.push_back(recs[j].second);
      const int64_t c = pair_count[e.pair];
      if (c > 0) {
        e.count = static_cast<uint64_t>(c);
        e.seq = seq++;
        heap.push_back(std::move(e));
        std::push_heap(heap.begin(), heap.end(), below);
      }
      i = j;
    }
    recs.clear();
  };
  queue_pairs(occurs);
  occurs.shrink_to_fit();

  // 5. merges
  std::vector<std::pair<uint64_t, uint32_t>> added;  // pairs that gained occurrences in this step
  r.stop = VocabStop::kReachedSize;
  while (true) {
    if (word_to_id.size() >= opt.vocab_size) break;
    if (heap.empty()) {
      r.stop = VocabStop::kNoPairs;
      break;
    }
    std::pop_heap(heap.begin(), heap.end(), below);
    Entry top = std::move(heap.back());
    heap.pop_back();
    const uint64_t now = static_cast<uint64_t>(std::max<int64_t>(0, pair_count[top.pair]));  // never below 0
    if (now != top.count) {  // stale: queue again with the current count
      top.count = now;
      top.seq = seq++;
      heap.push_back(std::move(top));
      std::push_heap(heap.begin(), heap.end(), below);
      continue;
    }
    if (top.count < 1) {
      r.stop = VocabStop::kNoPairs;
      break;
    }
    if (opt.min_frequency > top.count) {
      r.stop = VocabStop::kMinFrequency;
      break;
    }
    const uint32_t a = left_of(top.pair), b = right_of(top.pair);
    const std::string& sb = id_to_word[b];
    std::string merged = id_to_word[a];
    merged.append(sb.compare(0, 2, "##") == 0 ? std::string_view(sb).substr(2) : std::string_view(sb));
    const size_t size_before = id_to_word.size();
    const uint32_t z = add_entry(merged);
    if (id_to_word.size() > size_before) r.merged++;
    r.merge_steps++;
    r.last_frequency = top.count;

    // Merge (a, b) -> z in each queued word, left to right, in place; the pairs around each merge change.
    for (uint32_t w : top.words) {
      uint32_t* s = W.syms.data() + W.start[w];
      const uint32_t n = W.len[w];
      const int64_t c = static_cast<int64_t>(W.count[w]);
      uint32_t out = 0;
      for (uint32_t j = 0; j < n;) {
        if (s[j] == a && j + 1 < n && s[j + 1] == b) {
          if (out > 0) {
            const uint32_t prev = s[out - 1];
            pair_count[pair_key(prev, a)] -= c;
            pair_count[pair_key(prev, z)] += c;
            added.emplace_back(pair_key(prev, z), w);
          }
          if (j + 2 < n) {
            const uint32_t next = s[j + 2];
            pair_count[pair_key(b, next)] -= c;
            pair_count[pair_key(z, next)] += c;
            added.emplace_back(pair_key(z, next), w);
          }
          s[out++] = z;
          j += 2;
        } else {
          s[out++] = s[j++];
        }
      }
      W.len[w] = out;
    }
    queue_pairs(added);
  }
  return r;
}

std::string vocab_file_text(const std::vector<std::string>& tokens) {
  size_t n = 0;
  for (const auto& t : tokens) n += t.size() + 1;
  std::string out;
  out.reserve(n);
  for (const auto& t : tokens) {
    out += t;
    out += '\n';
  }
  return out;
}

}  // namespace electra

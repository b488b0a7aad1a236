// vocab_trainer.h: WordPiece vocabulary training: word counting from raw UTF-8 (streaming, parallel,
// BERT's normalizer + pre-tokenizer from wordpiece.h), then the algorithm of Hugging Face tokenizers'
// WordPieceTrainer (a BPE trainer whose pieces after the start of a word carry "##"). Not a tokenizer
// (wordpiece.h encodes with the result) and not a file reader (callers feed bytes).
//
// The rules, in the reference's order (tokenizers/src/models/bpe/trainer.rs, word.rs):
//  1. the special tokens, in the order given
//  2. the alphabet: every character of the words, counted with the words' frequencies, plus
//     `initial_alphabet`; with `limit_alphabet`, only that many of the most frequent; in code point order
//  3. "##c" for each alphabet character c met after the start of a word (characters outside the
//     alphabet are left out of the words)
//  4. merges: repeatedly the most frequent adjacent pair (counted over words weighted by frequency; ties:
//     the smaller (left id, right id)) becomes a new entry, left + right without its "##", until the
//     vocabulary has `vocab_size` entries or no pair occurs at least `min_frequency` times. A merge that
//     re-creates an existing entry adds nothing. Pair counts are updated incrementally, with the
//     reference's bookkeeping (a queue entry merges the words it was queued with).
// Where the reference depends on hash-map iteration order, this picks a fixed rule, so that the same
// corpus always gives the same vocabulary, for any thread count or chunking:
//  - the "##c" entries are in code point order (the reference: order of first sight over its hash map);
//  - alphabet characters tied at the `limit_alphabet` cut: the lower code point is kept;
//  - two queue entries for the same pair with the same count: the one queued first merges first.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace electra {

struct VocabTrainerOptions {
  bool lower_case = true;       // BERT uncased: lower-case and strip accents before counting
  size_t vocab_size = 30522;    // entries wanted, special tokens included
  uint64_t min_frequency = 2;   // a pair merges only if it occurs at least this often (HF BertWordPieceTokenizer: 2)
  size_t limit_alphabet = 1000; // characters kept, most frequent first; 0: all (HF BertWordPieceTokenizer: 1000)
  std::vector<uint32_t> initial_alphabet;  // code points always in the alphabet, even if unseen
  std::vector<std::string> special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  // For parity tests only: the order of the "##c" entries that the reference happened to give; entries
  // not listed follow in code point order. Empty: code point order.
  std::vector<std::string> continuation_order;
};

// Counts gathered by a WordCounter (all fields add up across feeds).
struct WordCountStats {
  uint64_t bytes = 0;         // input bytes
  uint64_t words = 0;         // words after pre-tokenization
  uint64_t distinct = 0;      // distinct words
  uint64_t invalid_utf8 = 0;  // invalid UTF-8 sequences (replaced by U+FFFD, then dropped)
};

// Streaming word counts: feed UTF-8 bytes cut anywhere (a line, a word or a character may span feeds);
// memory grows with the number of distinct words, not with the input. Not thread-safe: one feed at a time.
class WordCounter {
 public:
  // threads <= 0: the engine's default.
  explicit WordCounter(bool lower_case, int threads = 0);
  WordCounter(WordCounter&&) noexcept;
  WordCounter& operator=(WordCounter&&) noexcept;
  ~WordCounter();

  // Counts the words of `bytes`; text after the last whitespace is held back until the next feed.
  void feed(std::string_view bytes);
  // The end of one input (a file): counts what was held back, so that no word joins the next input.
  void end_input();
  WordCountStats stats() const;
  // Every distinct word with its count, in byte order (calls end_input first).
  std::vector<std::pair<std::string, uint64_t>> counts();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

enum class VocabStop {
  kReachedSize,   // vocab_size entries
  kNoPairs,       // no pair left to merge: every word is one entry
  kMinFrequency,  // the most frequent pair occurs fewer than min_frequency times
};

struct VocabResult {
  std::vector<std::string> tokens;  // the vocabulary, id order (line order of vocab.txt)
  size_t special = 0;               // entries from special_tokens
  size_t alphabet = 0;              // single characters
  size_t continuation = 0;          // "##c" entries
  size_t merged = 0;                // entries made by merges
  uint64_t merge_steps = 0;         // merges done (a merge that re-creates an entry adds none)
  uint64_t last_frequency = 0;      // frequency of the last pair merged (0: none)
  VocabStop stop = VocabStop::kReachedSize;
};

// Trains a WordPiece vocabulary from distinct words and their counts (words as BERT's pre-tokenizer
// gives them; their order does not matter). Throws electra::Error when vocab_size is smaller than the
// special tokens, the alphabet and the "##c" entries together, or a special token repeats.
VocabResult train_wordpiece_vocab(const std::vector<std::pair<std::string, uint64_t>>& word_counts,
                                  const VocabTrainerOptions& opt);

// vocab.txt's bytes: one entry per line, each line ending in '\n'.
std::string vocab_file_text(const std::vector<std::string>& tokens);

}  // namespace electra

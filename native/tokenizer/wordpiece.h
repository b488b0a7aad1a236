// wordpiece.h: BERT's tokenizer (text cleaning, CJK splitting, lower-casing and accent stripping,
// punctuation splitting, then WordPiece greedy longest-match-first) giving the ids of Hugging Face's
// BertTokenizerFast with add_special_tokens=False. Encoding only: no vocabulary training, no [CLS]/[SEP].
//
// The rules, in the reference's order (HF tokenizers' BertNormalizer + BertPreTokenizer + WordPiece):
//  1. clean: drop NUL, U+FFFD and control/format/private-use characters (not \t \n \r); whitespace -> space
//  2. each CJK ideograph (BERT's ranges) becomes a word of its own
//  3. uncased only: NFD (full canonical decomposition and ordering), drop non-spacing marks (Mn), lower-case
//  4. split on whitespace; each punctuation character becomes a word of its own
//  5. WordPiece: a word longer than 100 code points, or with no full cover by the vocabulary, is [UNK]
// Invalid UTF-8 becomes U+FFFD (so it is dropped by step 1) and is counted. Literal "[MASK]" etc. in the
// text are ordinary text (as in google-research/bert), not special tokens.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace electra {

// Counts gathered while encoding (all fields add up across calls).
struct EncodeStats {
  uint64_t lines = 0;         // lines encoded (encode_lines / streams)
  uint64_t bytes = 0;         // input bytes
  uint64_t tokens = 0;        // ids produced
  uint64_t unknown = 0;       // [UNK] ids produced
  uint64_t invalid_utf8 = 0;  // invalid UTF-8 sequences replaced by U+FFFD (and then dropped)
  void add(const EncodeStats& o) {
    lines += o.lines;
    bytes += o.bytes;
    tokens += o.tokens;
    unknown += o.unknown;
    invalid_utf8 += o.invalid_utf8;
  }
};

class WordPieceTokenizer {
 public:
  // Reads a vocabulary file (one entry per line, id = line number from 0; "\r\n" accepted; an empty line
  // reserves its id). Throws electra::Error naming the file (and line) when it cannot be read, an entry
  // repeats, or [UNK], [CLS], [SEP], [MASK] or [PAD] is missing.
  static WordPieceTokenizer from_vocab_file(const std::string& path, bool lower_case);
  // The same from entries in memory; `source` names them in error messages.
  static WordPieceTokenizer from_tokens(const std::vector<std::string>& tokens, bool lower_case,
                                        const std::string& source = "vocabulary");

  WordPieceTokenizer(WordPieceTokenizer&&) noexcept;
  WordPieceTokenizer& operator=(WordPieceTokenizer&&) noexcept;
  ~WordPieceTokenizer();

  // Appends the ids of `text` (newlines are whitespace like any other) to `ids`.
  void encode(std::string_view text, std::vector<int32_t>& ids, EncodeStats* stats = nullptr) const;
  // The words after normalization and pre-tokenization, before WordPiece (for tests and inspection).
  std::vector<std::string> pre_tokenize(std::string_view text) const;

  // Encodes each line of `text` ('\n'-separated; a last line without '\n' counts, an empty text has no
  // lines) on `threads` threads (<= 0: the engine's default). Line i's ids are
  // ids[offsets[i], offsets[i+1]); `ids` and `offsets` are replaced. Identical for any thread count.
  void encode_lines(std::string_view text, std::vector<int32_t>& ids, std::vector<uint64_t>& offsets, int threads,
                    EncodeStats* stats = nullptr) const;
  // The same for separate texts: text i's ids are ids[offsets[i], offsets[i+1]).
  void encode_batch(const std::vector<std::string_view>& texts, std::vector<int32_t>& ids,
                    std::vector<uint64_t>& offsets, int threads, EncodeStats* stats = nullptr) const;

  size_t vocab_size() const;
  const std::string& id_to_token(int32_t id) const;  // throws for an id outside the vocabulary
  int32_t token_to_id(std::string_view token) const;  // -1 when absent
  bool lower_case() const;
  int32_t unk_id() const;
  int32_t cls_id() const;
  int32_t sep_id() const;
  int32_t mask_id() const;
  int32_t pad_id() const;

  struct Impl;  // defined in wordpiece.cpp (public so that its per-thread encoders can read it)

 private:
  explicit WordPieceTokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Calls sink(ctx, bytes, length) for each word of `text` after normalization and pre-tokenization (the
// words pre_tokenize gives, without allocating per word; `lower_case` as for the tokenizer). A word's
// bytes are valid only during the call. Returns the number of invalid UTF-8 sequences (dropped).
// Splitting a text after an ASCII whitespace byte and calling this on each part gives the same words.
using WordSink = void (*)(void* ctx, const char* word, size_t len);
uint64_t for_each_word(std::string_view text, bool lower_case, WordSink sink, void* ctx);

// Reads text from `in_fd` until end of input and writes, per input line, one line of space-separated ids
// (or wordpieces) to `out_fd`. Works in chunks of `chunk_bytes`, encoded on `threads` threads; the output
// does not depend on the thread count or chunk size. Errors name `in_name` / `out_name`.
struct StreamOptions {
  bool tokens = false;             // write wordpieces instead of ids
  int threads = 0;                 // <= 0: the engine's default
  size_t chunk_bytes = 4u << 20;   // bytes read per step (a longer line grows the buffer)
  std::string in_name = "input";
  std::string out_name = "output";
};
EncodeStats tokenize_stream(const WordPieceTokenizer& tok, int in_fd, int out_fd, const StreamOptions& opt);

}  // namespace electra

// prepare.h: the native half of `electra prepare`: raw UTF-8 bytes in (plain text in BERT's
// one-sentence-or-paragraph-per-line convention, or JSON lines with a text field), token ids by
// the BERT tokenizer on every core, ELECTRA's packing, shards out (train and held-out eval). File
// discovery, decompression, the vocabulary, the manifest and progress reporting belong to the
// TypeScript side, which feeds bytes in chunks.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/packing.h"
#include "tokenizer/wordpiece.h"

namespace electra {

struct PrepareOptions {
  std::string out_dir;
  int max_seq_length = 128;
  uint64_t seed = 12345;
  size_t examples_per_shard = 100000;
  double eval_fraction = 0.01;     // share of examples held out for evaluation...
  size_t max_eval_examples = 10000;  // ...up to this many
  int threads = 0;                 // tokenizer threads (<= 0: all cores)
  uint64_t vocab_hash = 0;         // FNV-1a 64 of vocab.txt, stored in every shard
};

struct PrepareStats {
  uint64_t files = 0, bytes = 0, lines = 0, blank_lines = 0, documents = 0;
  uint64_t tokens = 0, unknown = 0, invalid_utf8 = 0;
  uint64_t train_examples = 0, eval_examples = 0;
  std::vector<std::string> shards;  // file names written so far (relative to out_dir)
};

class PrepareWriter {
 public:
  PrepareWriter(std::shared_ptr<const WordPieceTokenizer> tok, const PrepareOptions& opt);
  // Starts an input file; `jsonl` reads one JSON object per line and takes `text_field` (a string;
  // its '\n's separate lines; each record is a document).
  void begin_file(const std::string& name, bool jsonl, const std::string& text_field);
  void feed(const char* data, size_t n);
  void end_file();
  // Writes the last, partial shards. Returns the totals.
  const PrepareStats& finish();
  const PrepareStats& stats() const { return stats_; }

 private:
  void process(bool final);
  void route(std::vector<PackedExample>& ex);
  void write(bool eval, bool final);
  std::shared_ptr<const WordPieceTokenizer> tok_;
  PrepareOptions opt_;
  ExamplePacker packer_;
  PrepareStats stats_;
  std::string file_, field_, pending_;
  bool jsonl_ = false, in_file_ = false, file_start_ = true, doc_open_ = false;
  uint64_t file_line_ = 0, example_index_ = 0;
  uint32_t id_bytes_ = 2;
  std::vector<PackedExample> train_, eval_;
  int train_shards_ = 0, eval_shards_ = 0;
  // batch scratch
  std::string text_;
  std::vector<uint8_t> kinds_;  // 0: a text line (next in text_), 1: a blank line / document end
  std::vector<int32_t> ids_;
  std::vector<uint64_t> offsets_;
};

}  // namespace electra

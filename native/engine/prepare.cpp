// prepare.cpp: bytes -> lines -> ids (parallel) -> ELECTRA examples (sequential) -> shards.
#include "engine/prepare.h"

#include <cstring>

#include "engine/common.h"
#include "engine/json.h"
#include "engine/rng.h"
#include "engine/shards.h"

namespace electra {

static constexpr size_t kBatchBytes = 4u << 20;  // tokenize in batches of about this many bytes
static constexpr uint32_t kStreamSplit = 6;      // RNG stream kind: train / eval assignment

PrepareWriter::PrepareWriter(std::shared_ptr<const WordPieceTokenizer> tok, const PrepareOptions& opt)
    : tok_(std::move(tok)),
      opt_(opt),
      packer_(opt.max_seq_length, tok_->cls_id(), tok_->sep_id(), opt.seed, make_stream(kStreamShuffle, 0, 0)) {
  if (opt_.max_seq_length > 65535) throw Error("--max-seq-length must be at most 65535");
  if (opt_.examples_per_shard == 0) throw Error("examples per shard must be positive");
  id_bytes_ = tok_->vocab_size() <= 65536 ? 2 : 4;
}

void PrepareWriter::begin_file(const std::string& name, bool jsonl, const std::string& text_field) {
  if (in_file_) throw Error("internal: begin_file before end_file");
  file_ = name, jsonl_ = jsonl, field_ = text_field;
  in_file_ = true, file_start_ = true, file_line_ = 0;
  pending_.clear();
  stats_.files++;
}

void PrepareWriter::feed(const char* data, size_t n) {
  if (!in_file_) throw Error("internal: feed outside a file");
  if (file_start_ && n > 0) {
    const size_t probe = std::min<size_t>(n, 8192);
    const void* nul = std::memchr(data, 0, probe);
    if (nul)
      throw Error(file_ + ": looks like a binary file (a NUL byte at offset " +
                  std::to_string((const char*)nul - data) +
                  "); give UTF-8 text (.txt), JSON lines (.jsonl) or .gz of either (UTF-16 is not supported)");
    if (n >= 3 && (uint8_t)data[0] == 0xEF && (uint8_t)data[1] == 0xBB && (uint8_t)data[2] == 0xBF) data += 3, n -= 3;
    file_start_ = false;
  }
  stats_.bytes += n;
  pending_.append(data, n);
  if (pending_.size() >= kBatchBytes) process(false);
}

void PrepareWriter::end_file() {
  if (!in_file_) throw Error("internal: end_file outside a file");
  process(true);
  std::vector<PackedExample> out;
  if (doc_open_) stats_.documents++;
  doc_open_ = false;
  packer_.end_of_file(out);  // ELECTRA's add_line("") at the end of every file
  route(out);
  in_file_ = false;
}

static bool blank_line(const char* p, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\f' && p[i] != '\v') return false;
  return true;
}

void PrepareWriter::process(bool final) {
  size_t end = final ? pending_.size() : pending_.rfind('\n');
  if (end == std::string::npos) return;  // no complete line yet
  if (!final) end += 1;
  text_.clear();
  kinds_.clear();
  size_t pos = 0;
  while (pos < end) {
    size_t nl = pending_.find('\n', pos);
    if (nl == std::string::npos || nl >= end) nl = end;
    const char* line = pending_.data() + pos;
    size_t len = nl - pos;
    pos = nl + 1;
    if (len > 0 && line[len - 1] == '\r') len--;
    file_line_++;
    stats_.lines++;
    if (!jsonl_) {
      if (blank_line(line, len)) {
        stats_.blank_lines++;
        kinds_.push_back(1);
      } else {
        text_.append(line, len);
        text_ += '\n';
        kinds_.push_back(0);
      }
      continue;
    }
    if (blank_line(line, len)) continue;
    const std::string where = file_ + ":" + std::to_string(file_line_);
    json::Value v = json::parse(std::string_view(line, len), where);
    const json::Value* f = v.find(field_);
    if (!f || f->kind != json::Value::String)
      throw Error(where + ": no string field \"" + field_ + "\" in this JSON line (choose the field with --text-field)");
    size_t p = 0;
    const std::string& s = f->str;
    while (p <= s.size()) {  // the record's own lines; a blank one separates paragraphs like a blank line
      size_t q = s.find('\n', p);
      if (q == std::string::npos) q = s.size();
      size_t l = q - p;
      if (l > 0 && s[p + l - 1] == '\r') l--;
      if (!blank_line(s.data() + p, l)) {
        text_.append(s, p, l);
        text_ += '\n';
        kinds_.push_back(0);
      }
      p = q + 1;
    }
    kinds_.push_back(1);  // each record is a document
  }
  pending_.erase(0, std::min(pending_.size(), final ? pending_.size() : end));

  EncodeStats es;
  tok_->encode_lines(text_, ids_, offsets_, opt_.threads, &es);
  stats_.tokens += es.tokens;
  stats_.unknown += es.unknown;
  stats_.invalid_utf8 += es.invalid_utf8;
  std::vector<PackedExample> out;
  size_t li = 0;
  for (uint8_t k : kinds_) {
    if (k == 1) {
      if (doc_open_) stats_.documents++;
      doc_open_ = false;
      packer_.add_line(nullptr, 0, true, out);
    } else {
      const uint64_t a = offsets_[li], b = offsets_[li + 1];
      li++;
      doc_open_ = true;
      packer_.add_line(ids_.data() + a, (size_t)(b - a), false, out);
    }
  }
  route(out);
}

void PrepareWriter::route(std::vector<PackedExample>& ex) {
  for (auto& e : ex) {
    const bool eval = stats_.eval_examples < opt_.max_eval_examples &&
                      random_unit(opt_.seed, make_stream(kStreamSplit, 0, 0), example_index_) < opt_.eval_fraction;
    example_index_++;
    if (eval) {
      stats_.eval_examples++;
      eval_.push_back(std::move(e));
      if (eval_.size() >= opt_.examples_per_shard) write(true, false);
    } else {
      stats_.train_examples++;
      train_.push_back(std::move(e));
      if (train_.size() >= opt_.examples_per_shard) write(false, false);
    }
  }
  ex.clear();
}

void PrepareWriter::write(bool eval, bool final) {
  auto& buf = eval ? eval_ : train_;
  if (buf.empty()) return;
  int& n = eval ? eval_shards_ : train_shards_;
  char name[64];
  std::snprintf(name, sizeof name, "%s-%05d.shard", eval ? "eval" : "train", n++);
  write_shard(opt_.out_dir + "/" + name, buf, (uint32_t)opt_.max_seq_length, id_bytes_, opt_.vocab_hash);
  stats_.shards.push_back(name);
  buf.clear();
  (void)final;
}

const PrepareStats& PrepareWriter::finish() {
  if (in_file_) end_file();
  write(false, true);
  write(true, true);
  return stats_;
}

}  // namespace electra

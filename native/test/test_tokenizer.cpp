// test_tokenizer.cpp: the BERT WordPiece tokenizer's rules, one by one, on a tiny vocabulary; the
// batch / stream paths against single encodes; and a few known ids with BERT's own vocabulary when
// ../shared/data is present. Parity with Hugging Face over real text is tested in test/tokenizer*.test.ts.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "check.h"
#include "tokenizer/unicode_tables.h"
#include "tokenizer/wordpiece.h"

using electra::EncodeStats;
using electra::WordPieceTokenizer;

static const std::vector<std::string> kVocab = {
    "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]",                       // 0-4
    "hello", "world", ",", "!", "un", "##aff", "##able", "a", "b", ".",  // 5-14
    "héllo", "e", "##e", "ab", "中", "文", "$", "¿", "οδοσ", "i",          // 15-24
    "x", "##x", "c", "##b",                                              // 25-28
};

static WordPieceTokenizer tiny(bool lower = true) { return WordPieceTokenizer::from_tokens(kVocab, lower, "tiny"); }

static std::vector<int32_t> ids(const WordPieceTokenizer& t, std::string_view s, EncodeStats* st = nullptr) {
  std::vector<int32_t> out;
  t.encode(s, out, st);
  return out;
}
static std::string words(const WordPieceTokenizer& t, std::string_view s) {
  std::string out;
  for (const auto& w : t.pre_tokenize(s)) out += (out.empty() ? "" : "|") + w;
  return out;
}
using V = std::vector<int32_t>;

static std::string temp_path(const char* name) {
  const char* dir = std::getenv("TMPDIR");
  return std::string(dir && *dir ? dir : "/tmp") + "/electra_test_tokenizer_" + std::to_string(getpid()) + "_" + name;
}
static void write_file(const std::string& path, const std::string& data) {
  std::ofstream f(path, std::ios::binary);
  f << data;
}

TEST(unicode_tables_lookups) {
  using namespace electra::unicode;
  CHECK(flags('a') == 0);
  CHECK(flags(' ') & kSpace);
  CHECK(flags('\t') & kSpace);
  CHECK(flags(0x7) & kDrop);
  CHECK(flags(0x200B) & kDrop);  // zero-width space is a format character (Cf)
  CHECK(flags(0x00A0) & kSpace);
  CHECK(flags(0x3000) & kSpace);
  CHECK(flags(0x2028) & kSpace);
  CHECK(flags(0x0301) & kMn);
  CHECK(flags(0x4E2D) & kCjk);
  CHECK(flags('$') & kPunct);
  CHECK(flags(0x00BF) & kPunct);  // ¿
  uint32_t d[kMaxDecomposition];
  CHECK(decompose(0x00E9, d) == 2 && d[0] == 'e' && d[1] == 0x0301);
  CHECK(decompose(0x1E69, d) == 3);                                 // ṩ: s + dot below + dot above
  CHECK(decompose(0xD55C, d) == 3 && d[0] == 0x1112 && d[1] == 0x1161 && d[2] == 0x11AB);  // 한
  CHECK(decompose('a', d) == 0);
  CHECK(ccc_rank(0x0301) > ccc_rank(0x0316));  // 230 > 220
  CHECK(ccc_rank('a') == 0);
  uint32_t l[kMaxLower];
  CHECK(to_lower('A', l) == 1 && l[0] == 'a');
  CHECK(to_lower(0x03A3, l) == 1 && l[0] == 0x03C3);  // Σ -> σ, never the final form
  CHECK(to_lower(0x0130, l) == 2 && l[0] == 'i' && l[1] == 0x0307);
  CHECK(to_lower(0x0100, l) == 1 && l[0] == 0x0101);
  CHECK(to_lower(0x0101, l) == 1 && l[0] == 0x0101);
}

TEST(wordpiece_greedy_longest_match_first) {
  auto t = tiny();
  CHECK(ids(t, "unaffable") == (V{9, 10, 11}));
  CHECK(ids(t, "Hello, world!") == (V{5, 7, 6, 8}));
  CHECK(ids(t, "xxx") == (V{25, 26, 26}));
  CHECK(ids(t, "ab") == (V{18}));      // the longest match, not a + ##b
  CHECK(ids(t, "cb") == (V{27, 28}));
  CHECK(ids(t, "unaffablez") == (V{1}));  // no cover: the whole word is one [UNK], no partial pieces
  CHECK(ids(t, "zzz hello") == (V{1, 5}));
  CHECK(ids(t, "") == V{});
  CHECK(ids(t, "   \n\t ") == V{});
}

TEST(long_words_are_unknown) {
  auto t = tiny();
  CHECK(ids(t, std::string(100, 'x')).size() == 100);  // 100 code points: still matched
  CHECK(ids(t, std::string(101, 'x')) == (V{1}));
  std::string e100;  // 100 code points of 2 bytes each ("é" is dropped to "e" only when uncased)
  for (int i = 0; i < 101; i++) e100 += "\xC3\xA9";
  CHECK(ids(tiny(false), e100) == (V{1}));
}

TEST(cleaning_drops_controls_without_splitting) {
  auto t = tiny();
  CHECK(words(t, std::string("he\0llo", 6)) == "hello");
  CHECK(words(t, "he\x07llo") == "hello");
  CHECK(words(t, "he\u200Bllo") == "hello");      // zero-width space (Cf)
  CHECK(words(t, "he\uFEFFllo") == "hello");      // BOM
  CHECK(words(t, "he\uFFFDllo") == "hello");      // replacement character
  CHECK(words(t, "he\xC2\x85llo") == "hello");    // NEL is a control character
  CHECK(words(t, "he\uE000llo") == "hello");      // private use
  CHECK(words(t, "a\tb\nc\rd") == "a|b|c|d");
  CHECK(words(t, "a\u00A0b\u3000c\u2028d\u2029e\u2003f\u1680g") == "a|b|c|d|e|f|g");
}

TEST(invalid_utf8_becomes_replacement_and_is_counted) {
  auto t = tiny();
  EncodeStats st;
  CHECK(ids(t, "a\xFF" "b", &st) == (V{18}));  // "ab"
  CHECK(st.invalid_utf8 == 1);
  st = {};
  // A truncated 3-byte sequence is one U+FFFD; the ASCII byte that broke it is kept.
  CHECK(words(t, "a\xE2\x82" "b") == "ab");
  ids(t, "\xE2\x82" "b", &st);
  CHECK(st.invalid_utf8 == 1);
  st = {};
  ids(t, "\xED\xA0\x80", &st);  // an encoded surrogate: three invalid bytes (WHATWG)
  CHECK(st.invalid_utf8 == 3);
  st = {};
  ids(t, "\xC0\xAF \xF4\x90\x80\x80 \xF0\x9F\x98", &st);  // overlong; above U+10FFFF; truncated at the end
  CHECK(st.invalid_utf8 == 2 + 4 + 1);
  st = {};
  ids(t, "\xEF\xBF\xBD", &st);  // a literal U+FFFD is valid input (dropped, not counted)
  CHECK(st.invalid_utf8 == 0);
}

TEST(cjk_ideographs_are_words) {
  auto t = tiny();
  CHECK(ids(t, "中文") == (V{19, 20}));
  CHECK(words(t, "ab中文cd") == "ab|中|文|cd");
  CHECK(words(t, "한국어") == "\u1112\u1161\u11AB\u1100\u116E\u11A8\u110B\u1165");  // Hangul: not CJK, NFD to jamo
  CHECK(words(tiny(false), "한국어") == "한국어");
  CHECK(words(t, "ひらがな") == "ひらかな");  // the voicing mark is a non-spacing mark after NFD
  CHECK(words(t, "\uF900") == "\u8C48");  // a compatibility ideograph: its own word, then NFD
}

TEST(lower_case_and_accent_stripping) {
  auto t = tiny();
  CHECK(ids(t, "HÉLLO") == (V{5}));
  CHECK(ids(t, "he\u0301llo") == (V{5}));
  CHECK(ids(tiny(false), "héllo") == (V{15}));
  CHECK(ids(tiny(false), "Hello") == (V{1}));    // cased: no lower-casing
  CHECK(ids(tiny(false), "he\u0301llo") == (V{1}));  // cased: no NFD, so no match for the decomposed form
  CHECK(words(t, "ΟΔΟΣ") == "οδοσ");             // per character: no final sigma
  CHECK(words(t, "İstanbul") == "istanbul");     // İ -> I + U+0307 -> I -> i
  CHECK(words(t, "Ærøskøbing") == "ærøskøbing");  // æ and ø have no decomposition
  CHECK(words(t, "ﬁ") == "ﬁ");                   // compatibility forms are not decomposed (NFD, not NFKD)
  CHECK(words(t, "\u212A") == "k");               // KELVIN SIGN: singleton decomposition to K
  CHECK(words(tiny(false), "Ὀδυσσεύς") == "Ὀδυσσεύς");
}

TEST(canonical_ordering_of_surviving_marks) {
  auto t = tiny();
  // U+1D16D (ccc 226) and U+1D165 (ccc 216) are spacing marks, kept when accents are stripped: NFD swaps them.
  CHECK(words(t, "x\U0001D16D\U0001D165") == "x\U0001D165\U0001D16D");
  // A dropped mark between them (ccc 230) is part of the same run; a dropped control character is gone before NFD.
  CHECK(words(t, "x\U0001D16D\u0301\U0001D165") == "x\U0001D165\U0001D16D");
  CHECK(words(t, "x\U0001D16D\u200B\U0001D165") == "x\U0001D165\U0001D16D");
  // A starter ends the run.
  CHECK(words(t, "x\U0001D16Dy\U0001D165") == "x\U0001D16Dy\U0001D165");
  CHECK(words(tiny(false), "x\U0001D16D\U0001D165") == "x\U0001D16D\U0001D165");  // cased: no NFD
}

TEST(punctuation_splitting) {
  auto t = tiny();
  CHECK(words(t, "a.b") == "a|.|b");
  CHECK(words(t, "$5+3=8^2|~`") == "$|5|+|3|=|8|^|2|||~|`");  // ASCII symbols count as punctuation
  CHECK(words(t, "¿qué?") == "¿|que|?");
  CHECK(words(t, "…") == "…");
  CHECK(words(t, "a—b") == "a|—|b");
  CHECK(words(t, "a€b") == "a€b");         // currency signs outside ASCII are not punctuation (Sc)
  CHECK(words(t, "a😀b") == "a😀b");        // emoji are symbols (So): no split
  CHECK(words(t, "[MASK]") == "[|mask|]");  // special tokens in text are ordinary text
  CHECK(ids(t, "!!!") == (V{8, 8, 8}));
}

TEST(vocabulary_errors_name_the_file) {
  CHECK_THROWS(WordPieceTokenizer::from_vocab_file("/nonexistent/vocab.txt", true), "/nonexistent/vocab.txt");
  const std::string p = temp_path("vocab.txt");
  write_file(p, "[PAD]\n[UNK]\n[CLS]\nhello\n[SEP]\n");
  CHECK_THROWS(WordPieceTokenizer::from_vocab_file(p, true), "lacks [MASK]");
  write_file(p, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\nhello\n");
  CHECK_THROWS(WordPieceTokenizer::from_vocab_file(p, true), (p + ":8: duplicate entry \"hello\" (already on line 6)").c_str());
  write_file(p, "");
  CHECK_THROWS(WordPieceTokenizer::from_vocab_file(p, true), "empty");
  // CRLF line ends, a byte-order mark and a missing final newline are fine.
  write_file(p, "\xEF\xBB\xBF[PAD]\r\n[UNK]\r\n[CLS]\r\n[SEP]\r\n[MASK]\r\nhello");
  auto t = WordPieceTokenizer::from_vocab_file(p, true);
  CHECK(t.vocab_size() == 6);
  CHECK(t.pad_id() == 0 && t.unk_id() == 1 && t.cls_id() == 2 && t.sep_id() == 3 && t.mask_id() == 4);
  CHECK(ids(t, "Hello") == (V{5}));
  CHECK(t.token_to_id("hello") == 5 && t.token_to_id("nope") == -1);
  CHECK(t.id_to_token(5) == "hello");
  CHECK_THROWS(t.id_to_token(6), "outside the vocabulary");
  std::remove(p.c_str());
}

// Text with a bit of everything, long enough to be split across threads.
static std::string mixed_text(size_t lines) {
  const char* samples[] = {"Hello, world!", "unaffable", "", "中文 ab", "ÉCOLE e\xCC\x81", "a\xFF" "b",
                           "   ", "zzz", "x\U0001D16D\U0001D165", "\r"};
  std::string s;
  for (size_t i = 0; i < lines; i++) {
    s += samples[i % 10];
    s += std::string(i % 7, 'x');
    s += "\n";
  }
  return s;
}

TEST(lines_and_batches_match_single_encodes_for_any_thread_count) {
  auto t = tiny();
  const std::string text = mixed_text(20000) + "last line without newline";
  std::vector<int32_t> expect_ids;
  std::vector<uint64_t> expect_off{0};
  size_t pos = 0, lines = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    t.encode(std::string_view(text).substr(pos, nl - pos), expect_ids);
    expect_off.push_back(expect_ids.size());
    pos = nl + 1;
    lines++;
  }
  for (int threads : {1, 2, 3, 8}) {
    std::vector<int32_t> got;
    std::vector<uint64_t> off;
    EncodeStats st;
    t.encode_lines(text, got, off, threads, &st);
    CHECK_MSG(got == expect_ids && off == expect_off, "encode_lines differs with %d threads", threads);
    CHECK(st.lines == lines);
    CHECK(st.bytes == text.size());
    CHECK(st.tokens == expect_ids.size());
    CHECK(st.invalid_utf8 == 2000);
  }
  std::vector<std::string_view> texts;
  pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string::npos) nl = text.size();
    texts.push_back(std::string_view(text).substr(pos, nl - pos));
    pos = nl + 1;
  }
  for (int threads : {1, 4}) {
    std::vector<int32_t> got;
    std::vector<uint64_t> off;
    t.encode_batch(texts, got, off, threads);
    CHECK_MSG(got == expect_ids && off == expect_off, "encode_batch differs with %d threads", threads);
  }
  std::vector<int32_t> none;
  std::vector<uint64_t> none_off;
  t.encode_lines("", none, none_off, 2);
  CHECK(none.empty() && none_off == std::vector<uint64_t>{0});
}

static std::string run_stream(const WordPieceTokenizer& t, const std::string& input, electra::StreamOptions opt,
                              EncodeStats* st = nullptr) {
  const std::string in = temp_path("in.txt"), out = temp_path("out.txt");
  write_file(in, input);
  int ifd = open(in.c_str(), O_RDONLY), ofd = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  EncodeStats s = electra::tokenize_stream(t, ifd, ofd, opt);
  close(ifd);
  close(ofd);
  if (st) *st = s;
  std::ifstream f(out, std::ios::binary);
  std::string result((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::remove(in.c_str());
  std::remove(out.c_str());
  return result;
}

TEST(stream_writes_one_line_per_input_line) {
  auto t = tiny();
  electra::StreamOptions opt;
  CHECK(run_stream(t, "Hello, world!\n\nunaffable", opt) == "5 7 6 8\n\n9 10 11\n");
  CHECK(run_stream(t, "", opt).empty());
  opt.tokens = true;
  CHECK(run_stream(t, "Hello, world!\nunaffable\r\n", opt) == "hello , world !\nun ##aff ##able\n");
  // Whatever the chunk size (lines longer than a chunk included) and thread count, the same output.
  std::string text = mixed_text(30000) + std::string(100000, 'x') + " hello\n" + "end";
  opt.tokens = false;
  opt.threads = 1;
  opt.chunk_bytes = 1 << 20;
  EncodeStats st;
  const std::string expect = run_stream(t, text, opt, &st);
  CHECK(st.lines == 30002);
  CHECK(st.bytes == text.size());
  for (int threads : {2, 5}) {
    for (size_t chunk : {size_t{4096}, size_t{65536}, size_t{8} << 20}) {
      opt.threads = threads;
      opt.chunk_bytes = chunk;
      CHECK_MSG(run_stream(t, text, opt) == expect, "stream output differs (threads %d, chunk %zu)", threads, chunk);
    }
  }
}

TEST(stream_errors_name_the_files) {
  auto t = tiny();
  electra::StreamOptions opt;
  opt.in_name = "in.txt";
  opt.out_name = "out.txt";
  CHECK_THROWS(electra::tokenize_stream(t, -1, 1, opt), "cannot read in.txt");
  int fds[2];
  CHECK(pipe(fds) == 0);
  CHECK(write(fds[1], "hello\n", 6) == 6);
  close(fds[1]);
  CHECK_THROWS(electra::tokenize_stream(t, fds[0], -1, opt), "cannot write out.txt");
  close(fds[0]);
}

// BERT's uncased vocabulary, when ../shared/data is present (ids checked against Hugging Face).
TEST(bert_uncased_vocabulary_known_ids) {
  const char* src = std::getenv("ELECTRA_SOURCE_DIR");
  const std::string path = std::string(src ? src : ".") + "/../shared/data/vocab/bert-base-uncased-vocab.txt";
  if (!std::ifstream(path)) {
    std::printf("  skipped: %s is absent\n", path.c_str());
    return;
  }
  auto t = WordPieceTokenizer::from_vocab_file(path, true);
  CHECK(t.vocab_size() == 30522);
  CHECK(t.pad_id() == 0 && t.unk_id() == 100 && t.cls_id() == 101 && t.sep_id() == 102 && t.mask_id() == 103);
  CHECK(ids(t, "Hello, world!") == (V{7592, 1010, 2088, 999}));
  CHECK(ids(t, "unaffable") == (V{14477, 20961, 3468}));  // una ##ffa ##ble
}

TEST_MAIN()

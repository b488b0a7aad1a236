// test_vocab_trainer.cpp: WordPiece vocabulary training on tiny corpora whose merges are worked out by
// hand (in the comments), the stopping rules, the alphabet limit, and the streaming word counter (any
// chunking, any thread count, the same counts). Parity with Hugging Face's trainer is in
// test/vocabTrainer.test.ts.
#include <map>
#include <string>
#include <vector>

#include "check.h"
#include "tokenizer/vocab_trainer.h"
#include "tokenizer/wordpiece.h"

using electra::VocabResult;
using electra::VocabStop;
using electra::VocabTrainerOptions;
using electra::WordCounter;
using Counts = std::vector<std::pair<std::string, uint64_t>>;
using Tokens = std::vector<std::string>;

static VocabTrainerOptions bare(size_t vocab_size, uint64_t min_frequency) {
  VocabTrainerOptions o;
  o.vocab_size = vocab_size;
  o.min_frequency = min_frequency;
  o.limit_alphabet = 0;
  o.special_tokens = {};
  return o;
}

static Tokens tail(const Tokens& t, size_t from) { return Tokens(t.begin() + from, t.end()); }

// Hugging Face's own BPE trainer test corpus (bpe/trainer.rs test_train), here with "##" continuations.
static const Counts kRoses = {{"roses", 1}, {"are", 2}, {"red", 1},  {"voilets", 1}, {"blue", 1}, {"BERT", 1},
                              {"is", 2},    {"big", 1}, {"and", 1}, {"so", 1},      {"GPT-2", 1}};

TEST(hand_worked_merges) {
  // Alphabet, code point order: - 2 B E G P R T a b d e g i l n o r s t u v   (ids 0..21)
  // "##c" met after a word's start: - 2 E P R T d e g i l n o r s t u        (ids 22..38)
  // Pair counts over the words weighted by frequency: (a,##r) = 2 [are x2], (##r,##e) = 2 [are x2],
  // (i,##s) = 2 [is x2], every other pair 1. Ties go to the smaller (left id, right id):
  //  1. (a=8, ##r=35) -> "ar" (39); "are" becomes [ar, ##e]: (##r,##e) drops to 0, (ar,##e) = 2
  //  2. (i=13, ##s=36) before (ar=39, ##e=29) -> "is" (40)
  //  3. (ar, ##e) -> "are" (41)
  //  then every pair occurs once, below min_frequency 2.
  VocabResult r = electra::train_wordpiece_vocab(kRoses, bare(100, 2));
  const Tokens alphabet = {"-", "2", "B", "E", "G", "P", "R", "T", "a", "b", "d",
                           "e", "g", "i", "l", "n", "o", "r", "s", "t", "u", "v"};
  const Tokens cont = {"##-", "##2", "##E", "##P", "##R", "##T", "##d", "##e", "##g",
                       "##i", "##l", "##n", "##o", "##r", "##s", "##t", "##u"};
  CHECK(Tokens(r.tokens.begin(), r.tokens.begin() + 22) == alphabet);
  CHECK(Tokens(r.tokens.begin() + 22, r.tokens.begin() + 39) == cont);
  CHECK(tail(r.tokens, 39) == (Tokens{"ar", "is", "are"}));
  CHECK(r.alphabet == 22 && r.continuation == 17 && r.merged == 3 && r.merge_steps == 3);
  CHECK(r.stop == VocabStop::kMinFrequency);
  CHECK(r.last_frequency == 2);

  // The same with min_frequency 1: after those three every pair occurs once, so pair order decides.
  //  4. the smallest left id with a pair: B (2): (B, ##E=24) -> "BE" (42); BERT becomes [BE, ##R, ##T]
  //  5. (G=4, ##P=25) comes before the new (BE=42, ##R) -> "GP" (43); 44 entries: stop.
  r = electra::train_wordpiece_vocab(kRoses, bare(44, 1));
  CHECK(tail(r.tokens, 39) == (Tokens{"ar", "is", "are", "BE", "GP"}));
  CHECK(r.stop == VocabStop::kReachedSize && r.tokens.size() == 44);
}

TEST(special_tokens_first_then_alphabet) {
  VocabTrainerOptions o = bare(100, 2);
  o.special_tokens = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  VocabResult r = electra::train_wordpiece_vocab(kRoses, o);
  CHECK(Tokens(r.tokens.begin(), r.tokens.begin() + 6) == (Tokens{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "-"}));
  CHECK(tail(r.tokens, 44) == (Tokens{"ar", "is", "are"}));  // ids shift by 5, the order stays
  CHECK(r.special == 5);
  CHECK(electra::vocab_file_text({"[PAD]", "a", "##b"}) == "[PAD]\na\n##b\n");
}

TEST(vocab_size_cuts_merges) {
  VocabResult r = electra::train_wordpiece_vocab(kRoses, bare(40, 2));
  CHECK(r.tokens.size() == 40 && r.tokens.back() == "ar");
  CHECK(r.stop == VocabStop::kReachedSize);
  CHECK_THROWS(electra::train_wordpiece_vocab(kRoses, bare(38, 2)), "cannot hold");
  VocabTrainerOptions o = bare(100, 2);
  o.special_tokens = {"[UNK]", "[UNK]"};
  CHECK_THROWS(electra::train_wordpiece_vocab(kRoses, o), "given twice");
}

TEST(merges_repeat_and_overlap) {
  // "aaaa" x3: alphabet a (0), ##a (1). (a,##a) = 3, (##a,##a) = 6 [two per word].
  //  1. (##a,##a) -> "##aa" (2): [a, ##aa, ##a]: left to right, the 2nd and 3rd merge; the 4th stays.
  //     Changes per word: (a,##a) -1, (a,##aa) +1, (##a,##a) -1 [the pair after], (##aa,##a) +1.
  //     (##a,##a) keeps its own count minus the pair after (6 - 3 = 3: the reference's bookkeeping does
  //     not take off the merged pair itself); it is no longer queued.
  //  2. (a,##aa) = 3 and (##aa,##a) = 3: the smaller pair (0, 2) -> "aaa" (3): [aaa, ##a]
  //  3. (aaa, ##a) -> "aaaa" (4)
  //  then no pair left.
  VocabResult r = electra::train_wordpiece_vocab({{"aaaa", 3}}, bare(100, 1));
  CHECK(r.tokens == (Tokens{"a", "##a", "##aa", "aaa", "aaaa"}));
  CHECK(r.stop == VocabStop::kNoPairs);
}

TEST(limit_alphabet_drops_rare_characters) {
  // Character counts: a 5+1, b 5+1, c 1 [abc x1], x 2, y 2. Keep 3: a, b, then x and y tie at 2: x (lower).
  // Dropped characters leave the word; a character after a dropped first one still carries "##".
  Counts words = {{"ab", 5}, {"abc", 1}, {"xy", 2}};
  VocabTrainerOptions o = bare(100, 1);
  o.limit_alphabet = 3;
  VocabResult r = electra::train_wordpiece_vocab(words, o);
  CHECK(Tokens(r.tokens.begin(), r.tokens.begin() + 3) == (Tokens{"a", "b", "x"}));
  CHECK(Tokens(r.tokens.begin() + 3, r.tokens.begin() + 4) == (Tokens{"##b"}));  // "xy" gives x alone
  CHECK(tail(r.tokens, 4) == (Tokens{"ab"}));
  // The initial alphabet is kept whatever its count, even unseen.
  o.initial_alphabet = {'z'};
  r = electra::train_wordpiece_vocab(words, o);
  CHECK(Tokens(r.tokens.begin(), r.tokens.begin() + 3) == (Tokens{"a", "b", "z"}));
  // A word whose first character is dropped: "cb" with c dropped is [##b].
  r = electra::train_wordpiece_vocab({{"ab", 5}, {"cb", 1}}, [] {
    VocabTrainerOptions p = bare(100, 1);
    p.limit_alphabet = 2;
    return p;
  }());
  CHECK(r.tokens == (Tokens{"a", "b", "##b", "ab"}));
}

TEST(continuation_order_hook) {
  VocabTrainerOptions o = bare(100, 2);
  o.continuation_order = {"##u", "##e", "##zz", "x"};  // unknown or malformed entries are ignored
  VocabResult r = electra::train_wordpiece_vocab(kRoses, o);
  CHECK(r.tokens[22] == "##u" && r.tokens[23] == "##e" && r.tokens[24] == "##-");
  CHECK(r.continuation == 17);
}

// ---- the word counter -------------------------------------------------------------------------------------

static std::map<std::string, uint64_t> reference_counts(const std::string& text, bool lower) {
  std::map<std::string, uint64_t> m;
  auto t = electra::WordPieceTokenizer::from_tokens({"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}, lower);
  for (const auto& w : t.pre_tokenize(text)) m[w]++;
  return m;
}
static std::map<std::string, uint64_t> as_map(const Counts& c) { return {c.begin(), c.end()}; }

static const std::string kText =
    "Héllo, WORLD!\r\nThe café's naïve façade\tcosts $3.50 — 中文字 tokens.\n"
    "ﬁne ligatures; Ǆ and İstanbul\xC2\xA0nbsp; e\xCC\x81\xCC\xA7 marks\n"
    "bad \xFF\xC3( utf-8 \xE2\x82 here\nno newline at the end";

TEST(counter_any_chunking_same_counts) {
  for (bool lower : {true, false}) {
    const auto expected = reference_counts(kText, lower);
    for (size_t step = 1; step <= kText.size(); step += (step < 8 ? 1 : 5)) {
      WordCounter wc(lower, 1);
      for (size_t i = 0; i < kText.size(); i += step) wc.feed(std::string_view(kText).substr(i, step));
      const auto got = as_map(wc.counts());
      CHECK_MSG(got == expected, "lower=%d chunk=%zu: %zu distinct words, expected %zu", lower, step, got.size(),
                expected.size());
      CHECK(wc.stats().bytes == kText.size());
      CHECK(wc.stats().invalid_utf8 == 3);
    }
  }
}

TEST(counter_end_input_separates_files) {
  WordCounter wc(true, 1);
  wc.feed("one two");
  wc.end_input();
  wc.feed("three");
  const auto got = as_map(wc.counts());
  CHECK(got.count("two") && got.count("three") && !got.count("twothree"));
  CHECK(wc.stats().words == 3);
}

TEST(counter_threads_and_vocab_identical) {
  std::string big;
  uint64_t x = 12345;
  const char* syll[] = {"ka", "to", "re", "mi", "su", "lo", "ne", "da", "é", "中", ",", "ing", "the", "Qu"};
  for (int i = 0; i < 200000; i++) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    big += syll[(x >> 33) % 14];
    if ((x >> 20) % 3 == 0) big += ((x >> 40) % 7 == 0) ? "\n" : " ";
  }
  Counts one, four;
  {
    WordCounter wc(true, 1);
    wc.feed(big);
    one = wc.counts();
  }
  {
    WordCounter wc(true, 4);
    for (size_t i = 0; i < big.size(); i += 300001) wc.feed(std::string_view(big).substr(i, 300001));
    four = wc.counts();
  }
  CHECK(one == four);
  CHECK(as_map(one) == reference_counts(big, true));
  VocabTrainerOptions o;
  o.vocab_size = 400;
  const VocabResult a = electra::train_wordpiece_vocab(one, o);
  const VocabResult b = electra::train_wordpiece_vocab(four, o);
  CHECK(a.tokens == b.tokens);
  CHECK(a.tokens.size() == 400);
  // The vocabulary tokenizes its own corpus without [UNK] (every character is in the alphabet).
  auto tok = electra::WordPieceTokenizer::from_tokens(a.tokens, true, "trained");
  electra::EncodeStats st;
  std::vector<int32_t> ids;
  tok.encode(big, ids, &st);
  CHECK(st.unknown == 0);
  CHECK_MSG(st.tokens < big.size() / 3, "%llu tokens for %zu bytes", (unsigned long long)st.tokens, big.size());  // pieces longer than characters
}

TEST_MAIN()

// test_packing.cpp: ELECTRA's example builder on hand-worked cases (scripted random draws), and the
// shard format (round trip, damage detection).
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>

#include "check.h"
#include "engine/packing.h"
#include "engine/rng.h"
#include "engine/shards.h"

using namespace electra;

static const int CLS = 101, SEP = 102;

struct Script {
  std::deque<double> draws;
  double operator()() {
    if (draws.empty()) throw std::runtime_error("the packer drew more random numbers than the rules call for");
    double d = draws.front();
    draws.pop_front();
    return d;
  }
};

static ExamplePacker scripted(int max_len, std::deque<double> draws, std::shared_ptr<Script>& s) {
  ExamplePacker p(max_len, CLS, SEP, 1, 0);
  s = std::make_shared<Script>(Script{std::move(draws)});
  auto sp = s;
  p.set_uniform_source([sp] { return (*sp)(); });
  return p;
}

static void add(ExamplePacker& p, std::vector<int32_t> ids, std::vector<PackedExample>& out) {
  p.add_line(ids.data(), ids.size(), ids.empty(), out);
}

TEST(two_segments_split_at_a_sentence_boundary) {
  // max 12 -> target A = (12 - 3) / 2 = 4. Draws: 0.5 (not single-segment), 0.7 (s2 does not join A:
  // A would exceed its target), 0.5 (keep the full target length next time).
  std::shared_ptr<Script> s;
  auto p = scripted(12, {0.5, 0.7, 0.5}, s);
  std::vector<PackedExample> out;
  add(p, {10, 11, 12}, out);
  add(p, {20, 21, 22, 23}, out);
  CHECK(out.empty());
  add(p, {30, 31, 32, 33, 34}, out);  // 12 tokens >= target: an example
  CHECK(out.size() == 1);
  // A = s1; B = s2 + s3 truncated to 12 - 3 - 3 = 6 tokens
  CHECK((out[0].ids == std::vector<int32_t>{CLS, 10, 11, 12, SEP, 20, 21, 22, 23, 30, 31, SEP}));
  CHECK(out[0].len_a == 5);
  CHECK(s->draws.empty());
}

TEST(a_coin_flip_lets_an_overlong_sentence_join_segment_a) {
  std::shared_ptr<Script> s;
  auto p = scripted(12, {0.5, 0.3, 0.5}, s);  // 0.3 < 0.5: s2 joins A
  std::vector<PackedExample> out;
  add(p, {10, 11, 12}, out);
  add(p, {20, 21, 22, 23}, out);
  add(p, {30, 31, 32, 33, 34}, out);
  // A = s1 + s2 (7 tokens); s3 to B, truncated to 12 - 7 - 3 = 2
  CHECK((out[0].ids == std::vector<int32_t>{CLS, 10, 11, 12, 20, 21, 22, 23, SEP, 30, 31, SEP}));
  CHECK(out[0].len_a == 9);
  CHECK(s->draws.empty());
}

TEST(one_segment_with_probability_one_tenth) {
  std::shared_ptr<Script> s;
  auto p = scripted(8, {0.05, 0.5}, s);  // 0.05 < 0.1: everything goes to A (no coin flips)
  std::vector<PackedExample> out;
  add(p, {1, 2, 3, 4, 5}, out);
  add(p, {6, 7, 8, 9}, out);
  // A truncated to max - 2 = 6; no B and no second [SEP]
  CHECK((out[0].ids == std::vector<int32_t>{CLS, 1, 2, 3, 4, 5, 6, SEP}));
  CHECK(out[0].len_a == 8);
  CHECK(s->draws.empty());
}

TEST(blank_lines_end_documents_and_random_target_lengths) {
  // first example ends at the blank line; then 0.01 < 0.05 picks a random target:
  // randint(5, 12) = 5 + floor(0.5 * 8) = 9
  std::shared_ptr<Script> s;
  auto p = scripted(12, {0.5, 0.01, 0.5, 0.5, 0.9}, s);
  std::vector<PackedExample> out;
  add(p, {10, 11}, out);
  add(p, {}, out);  // document boundary
  CHECK(out.size() == 1);
  CHECK((out[0].ids == std::vector<int32_t>{CLS, 10, 11, SEP}));
  add(p, {}, out);  // nothing pending: no example
  CHECK(out.size() == 1);
  add(p, {1, 2, 3, 4}, out);
  add(p, {5, 6, 7, 8}, out);  // 8 < 9: still pending
  CHECK(out.size() == 1);
  add(p, {9}, out);  // 9 >= 9: emitted; target A = (9 - 3) / 2 = 3, so s1 (4 tokens) fills A, rest to B
  CHECK(out.size() == 2);
  CHECK((out[1].ids == std::vector<int32_t>{CLS, 1, 2, 3, 4, SEP, 5, 6, 7, 8, 9, SEP}));
  CHECK(s->draws.empty());
}

TEST(end_of_file_flushes_a_partial_example) {
  std::shared_ptr<Script> s;
  auto p = scripted(128, {0.5, 0.5}, s);
  std::vector<PackedExample> out;
  add(p, {7, 8, 9}, out);
  p.end_of_file(out);
  CHECK(out.size() == 1 && (out[0].ids == std::vector<int32_t>{CLS, 7, 8, 9, SEP}));
  p.end_of_file(out);
  CHECK(out.size() == 1);
}

TEST(the_same_seed_packs_the_same_way) {
  std::vector<PackedExample> a, b;
  for (auto* out : {&a, &b}) {
    ExamplePacker p(32, CLS, SEP, 99, 3);
    for (int i = 0; i < 500; i++) {
      std::vector<int32_t> line(1 + (i * 7) % 13, 1000 + i);
      p.add_line(line.data(), line.size(), i % 17 == 0, *out);
    }
  }
  CHECK(a.size() > 50 && a.size() == b.size());
  for (size_t i = 0; i < a.size(); i++) CHECK(a[i].ids == b[i].ids && a[i].len_a == b[i].len_a);
  for (auto& e : a) CHECK(e.ids.size() <= 32 && e.ids.front() == CLS && e.ids.back() == SEP);
}

TEST(shard_round_trip_and_damage) {
  std::vector<PackedExample> ex = {{{CLS, 5, 6, SEP, 7, SEP}, 4}, {{CLS, 70000 % 30522, SEP}, 3}};
  for (uint32_t bytes : {2u, 4u}) {
    std::string s = shard_bytes(ex, 8, bytes, 1234);
    Shard sh = Shard::from_bytes(s, "x.shard");
    CHECK(sh.size() == 2 && sh.header().seq_len == 8 && sh.header().vocab_hash == 1234);
    int32_t ids[8], tt[8], mask[8];
    sh.example(0, ids, tt, mask);
    const int32_t eids[8] = {CLS, 5, 6, SEP, 7, SEP, 0, 0}, ett[8] = {0, 0, 0, 0, 1, 1, 0, 0}, em[8] = {1, 1, 1, 1, 1, 1, 0, 0};
    CHECK(!std::memcmp(ids, eids, 32) && !std::memcmp(tt, ett, 32) && !std::memcmp(mask, em, 32));
    CHECK_THROWS(Shard::from_bytes(s.substr(0, s.size() - 3), "x.shard"), "truncated");
    std::string flipped = s;
    flipped[70] ^= 1;
    CHECK_THROWS(Shard::from_bytes(flipped, "x.shard"), "checksum");
    CHECK_THROWS(Shard::from_bytes("hello world, not a shard at all, long enough to have a header.....", "x.shard"), "bad magic");
    std::string v2 = s;
    v2[8] = 2;
    CHECK_THROWS(Shard::from_bytes(v2, "x.shard"), "version 2");
  }
  CHECK_THROWS(Shard::load("/nonexistent/x.shard"), "/nonexistent/x.shard");
}

TEST_MAIN()

// test_safetensors.cpp: the safetensors reader and writer (engine/safetensors.h) and the file
// helpers (engine/fileio.h): hostile headers, round trips, dtype conversions, atomic writes.
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "check.h"
#include "engine/common.h"
#include "engine/fileio.h"
#include "engine/safetensors.h"

using namespace electra;
namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// helpers

// A file: 8-byte little-endian `header_len`, then `rest` (header and data).
static std::string with_len(uint64_t header_len, const std::string& rest) {
  std::string out(8, '\0');
  for (int i = 0; i < 8; i++) out[i] = (char)(header_len >> (8 * i));
  return out + rest;
}
static std::string file_of(const std::string& header, size_t data_bytes) {
  return with_len(header.size(), header + std::string(data_bytes, '\x01'));
}
static SafeTensors parse_file(const std::string& header, size_t data_bytes) {
  return SafeTensors::from_bytes(file_of(header, data_bytes), "model.safetensors");
}
static std::string entry(const std::string& name, const std::string& dtype, const std::string& shape, uint64_t b,
                         uint64_t e) {
  return "\"" + name + "\":{\"dtype\":\"" + dtype + "\",\"shape\":" + shape + ",\"data_offsets\":[" +
         std::to_string(b) + "," + std::to_string(e) + "]}";
}

struct TempDir {
  std::string path;
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/electra-st-XXXXXX";
    if (!mkdtemp(tmpl.data())) throw Error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() { std::error_code ec; fs::remove_all(path, ec); }
  std::vector<std::string> files() const {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(path)) out.push_back(e.path().filename().string());
    return out;
  }
};

static bool same_bits(const void* a, const void* b, size_t n) { return std::memcmp(a, b, n) == 0; }
static uint32_t bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
static float from_bits(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }

// ---------------------------------------------------------------------------------------------
// hostile files: every one throws electra::Error with a distinctive phrase, starting with the path

TEST(rejects_file_shorter_than_8_bytes) {
  CHECK_THROWS(SafeTensors::from_bytes("", "m.st"), "m.st: file is too short");
  CHECK_THROWS(SafeTensors::from_bytes("abcdefg", "m.st"), "too short");
  CHECK_THROWS(SafeTensors::from_bytes("abcdefg", "m.st"), "re-download or re-save the checkpoint");
}

TEST(rejects_header_too_large) {
  CHECK_THROWS(SafeTensors::from_bytes(with_len(100000001, "{}"), "m.st"), "m.st: header too large");
  CHECK_THROWS(SafeTensors::from_bytes(with_len(UINT64_MAX, "{}"), "m.st"), "header too large");
  CHECK_THROWS(SafeTensors::from_bytes(with_len(1ull << 63, ""), "m.st"), "header too large");
}

TEST(rejects_header_past_end_of_file) {
  CHECK_THROWS(SafeTensors::from_bytes(with_len(100, "{}"), "m.st"), "m.st: header length 100 runs past the end");
  CHECK_THROWS(SafeTensors::from_bytes(with_len(3, "{}"), "m.st"), "runs past the end of the file (10 bytes)");
  CHECK_THROWS(SafeTensors::from_bytes(with_len(1, ""), "m.st"), "runs past the end");
}

TEST(rejects_header_not_json) {
  CHECK_THROWS(parse_file("{\"a\":", 0), "model.safetensors: safetensors header: invalid JSON at line 1");
  CHECK_THROWS(parse_file("", 0), "invalid JSON");
  CHECK_THROWS(parse_file("{} x", 0), "invalid JSON");
  CHECK_THROWS(parse_file("{\"\xFF\":1}", 0), "invalid UTF-8");
  CHECK_THROWS(parse_file(std::string("{}\0\0\0\0\0\0", 8), 0), "invalid JSON");  // NUL padding
}

TEST(rejects_header_not_object) {
  CHECK_THROWS(parse_file("[1,2]", 0), "model.safetensors: safetensors header is not a JSON object (it is a array)");
  CHECK_THROWS(parse_file("\"x\"", 0), "not a JSON object");
  CHECK_THROWS(parse_file("null", 0), "not a JSON object");
}

TEST(rejects_tensor_entry_missing_fields) {
  CHECK_THROWS(parse_file("{\"w\":5}", 0), "model.safetensors: tensor \"w\" must be an object with dtype");
  CHECK_THROWS(parse_file("{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4), "tensor \"w\": missing \"dtype\"");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4), "tensor \"w\": missing \"shape\"");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4), "tensor \"w\": missing \"data_offsets\"");
}

TEST(rejects_tensor_entry_wrong_types) {
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}", 4),
               "\"dtype\" must be a string, got number");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":\"1\",\"data_offsets\":[0,4]}}", 4),
               "\"shape\" must be an array of integers, got string");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4),
               "\"data_offsets\" must be an array of two integers");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{}}}", 4), "array of two integers");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,8]}}", 8), "two integers");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",\"4\"]}}", 4),
               "data_offsets begin must be an integer, got string");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4.5]}}", 4),
               "data_offsets end must be an integer, got 4.5");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}}", 4), "negative data_offsets");
  CHECK_THROWS(parse_file("{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,1e300]}}", 4), "too large");
}

TEST(rejects_unknown_dtype) {
  CHECK_THROWS(parse_file("{" + entry("w", "F8_E4M3", "[4]", 0, 4) + "}", 4),
               "tensor \"w\": unknown or unsupported dtype \"F8_E4M3\" (supported: F64, F32");
  CHECK_THROWS(parse_file("{" + entry("w", "f32", "[1]", 0, 4) + "}", 4), "unsupported dtype \"f32\"");
  CHECK_THROWS(parse_file("{" + entry("w", "", "[1]", 0, 4) + "}", 4), "unsupported dtype");
}

TEST(rejects_bad_shape_dims) {
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[-1]", 0, 4) + "}", 4), "tensor \"w\": negative shape dimension -1");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[2.5]", 0, 10) + "}", 10), "shape dimension must be an integer, got 2.5");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[\"2\"]", 0, 8) + "}", 8), "shape dimension must be an integer, got string");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[null]", 0, 8) + "}", 8), "must be an integer, got null");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[1e300]", 0, 8) + "}", 8), "shape dimension is too large");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[[2]]", 0, 8) + "}", 8), "must be an integer, got array");
}

TEST(rejects_shape_overflow) {
  // element count overflows int64
  CHECK_THROWS(parse_file("{" + entry("w", "U8", "[4294967296,4294967296]", 0, 0) + "}", 0), "overflows");
  CHECK_THROWS(parse_file("{" + entry("w", "U8", "[3037000500,3037000500]", 0, 0) + "}", 0), "overflows");
  // element count fits, byte size does not
  CHECK_THROWS(parse_file("{" + entry("w", "F64", "[2147483648,2147483648]", 0, 0) + "}", 0), "overflows");
  // a product that wraps to a small number must not slip through: 2^32 * 2^32 * 2 wraps to 0
  CHECK_THROWS(parse_file("{" + entry("w", "U8", "[4294967296,4294967296,2]", 0, 0) + "}", 0), "overflows");
  // a zero dimension makes a large shape empty, which is fine
  auto st = parse_file("{" + entry("w", "F32", "[0,4294967296,4294967296]", 0, 0) + "}", 0);
  CHECK(st.tensors().size() == 1 && st.tensors()[0].shape.size() == 3);
}

TEST(rejects_size_mismatch) {
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[2]", 0, 4) + "}", 4),
               "tensor \"w\": size mismatch: F32 [2] needs 8 bytes but data_offsets [0, 4] hold 4");
  CHECK_THROWS(parse_file("{" + entry("w", "F16", "[2,3]", 0, 24) + "}", 24), "size mismatch");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[]", 0, 0) + "}", 0), "size mismatch");  // a scalar has 1 element
}

TEST(rejects_begin_after_end) {
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[1]", 8, 4) + "}", 8), "data_offsets [8, 4] end before they begin");
}

TEST(rejects_offsets_out_of_range) {
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[4]", 0, 16) + "}", 8),
               "tensor \"w\": data_offsets [0, 16] are out of range: the data buffer has only 8 bytes");
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[0]", 9, 9) + "}", 8), "out of range");
  CHECK_THROWS(parse_file("{" + entry("w", "U8", "[1]", 9007199254740991ull, 9007199254740992ull) + "}", 8),
               "out of range");
}

TEST(rejects_overlapping_tensors) {
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 4, 12) + "}", 12),
               "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap in the data buffer");
  // identical ranges (aliasing), listed in either order
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("b", "F32", "[2]", 0, 8) + "}", 8), "overlap");
  CHECK_THROWS(parse_file("{" + entry("b", "F32", "[1]", 4, 8) + "," + entry("a", "F32", "[2]", 0, 8) + "}", 8), "overlap");
  // an empty tensor placed inside another's range, as the reference rejects it
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[2]", 0, 8) + "," + entry("z", "F32", "[0]", 4, 4) + "}", 8), "overlap");
}

TEST(rejects_holes_in_data_buffer) {
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[1]", 0, 4) + "," + entry("b", "F32", "[1]", 8, 12) + "}", 12),
               "bytes [4, 8) of the data buffer belong to no tensor (a hole before \"b\")");
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[1]", 4, 8) + "}", 8), "bytes [0, 4) of the data buffer");
  CHECK_THROWS(parse_file("{" + entry("a", "F32", "[1]", 0, 4) + "}", 8), "bytes [4, 8) at the end of the data buffer belong to no tensor");
  CHECK_THROWS(parse_file("{}", 1), "belong to no tensor");
  CHECK_THROWS(parse_file("{\"__metadata__\":{}}", 3), "belong to no tensor");
}

TEST(rejects_bad_metadata) {
  CHECK_THROWS(parse_file("{\"__metadata__\":[1]}", 0), "model.safetensors: __metadata__ must be an object mapping strings to strings, got array");
  CHECK_THROWS(parse_file("{\"__metadata__\":\"pt\"}", 0), "__metadata__ must be an object");
  CHECK_THROWS(parse_file("{\"__metadata__\":{\"format\":\"pt\",\"step\":5}}", 0),
               "__metadata__ must map strings to strings, but \"step\" is a number");
  CHECK_THROWS(parse_file("{\"__metadata__\":{\"a\":{}}}", 0), "\"a\" is a object");
  CHECK_THROWS(parse_file("{\"__metadata__\":{\"a\":null}}", 0), "\"a\" is a null");
  CHECK_THROWS(parse_file("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0), "duplicate key \"a\"");
}

TEST(rejects_duplicate_tensor_names) {
  CHECK_THROWS(parse_file("{" + entry("w", "F32", "[1]", 0, 4) + "," + entry("w", "F32", "[1]", 4, 8) + "}", 8),
               "duplicate key \"w\"");
}

// A small valid file shared by the read_* tests.
static SafeTensors sample() {
  float w[6] = {1, 2, 3, 4, 5, 6};
  int64_t ids[3] = {7, -8, 9};
  uint16_t h[2] = {0x3C00, 0xC000};
  return SafeTensors::from_bytes(
      safetensors_bytes({{"w", DType::F32, {2, 3}, w}, {"ids", DType::I64, {3}, ids}, {"h", DType::F16, {2}, h}}, {}),
      "ckpt/model.safetensors");
}

TEST(read_f32_rejects_wrong_shape) {
  auto st = sample();
  float out[6];
  CHECK_THROWS(st.read_f32("w", {3, 2}, out),
               "ckpt/model.safetensors: tensor \"w\" has shape [2, 3] but the model expects [3, 2]");
  CHECK_THROWS(st.read_f32("w", {6}, out), "shape");
  CHECK_THROWS(st.read_f32("w", {2, 3, 1}, out), "shape");
  double d[6];
  CHECK_THROWS(st.read_f64("w", {2}, d), "shape");
}

TEST(read_f32_rejects_integer_tensor) {
  auto st = sample();
  float out[3];
  CHECK_THROWS(st.read_f32("ids", {3}, out), "ckpt/model.safetensors: tensor \"ids\" has dtype I64, expected a float dtype");
  double d[3];
  CHECK_THROWS(st.read_f64("ids", {3}, d), "dtype");
  CHECK_THROWS(st.read_i64("w"), "tensor \"w\" has dtype F32, expected an integer dtype");
}

TEST(read_rejects_missing_tensor) {
  auto st = sample();
  float out[6];
  CHECK_THROWS(st.read_f32("nope", {6}, out), "ckpt/model.safetensors: tensor \"nope\" not found (missing from the checkpoint");
  double d[1];
  CHECK_THROWS(st.read_f64("nope", {1}, d), "not found");
  CHECK_THROWS(st.read_i64("nope"), "not found");
  CHECK(st.find("nope") == nullptr);
  CHECK(st.find("w") != nullptr && st.find("w")->dtype == DType::F32);
}

TEST(fuzzed_files_throw_only_electra_errors) {
  float w[6] = {1, 2, 3, 4, 5, 6};
  uint16_t h[2] = {1, 2};
  const std::string good =
      safetensors_bytes({{"w", DType::F32, {2, 3}, w}, {"h", DType::BF16, {2}, h}}, {{"format", "pt"}});
  std::mt19937 rng(1234);
  int ok = 0, rejected = 0, other = 0;
  for (int iter = 0; iter < 20000; iter++) {
    std::string b = good;
    int kind = iter % 4;
    if (kind == 0) {  // flip random bytes (header mostly)
      for (int k = 0; k < 1 + (int)(rng() % 3); k++) b[rng() % b.size()] ^= (char)(1 + rng() % 255);
    } else if (kind == 1) {  // truncate
      b.resize(rng() % b.size());
    } else if (kind == 2) {  // replace a header digit with another digit
      size_t i = 8 + rng() % (b.size() - 8 - 32);
      if (b[i] >= '0' && b[i] <= '9') b[i] = (char)('0' + rng() % 10);
    } else {  // insert a random byte in the header and fix up the length
      size_t i = 8 + rng() % 60;
      b.insert(b.begin() + (long)i, (char)(rng() % 256));
      b[0] = (char)(b[0] + 1);
    }
    try {
      auto st = SafeTensors::from_bytes(b, "fuzz");
      ok++;
      for (auto& t : st.tensors()) {  // everything that validated must be readable
        if (dtype_is_float(t.dtype)) {
          std::vector<double> out((t.end - t.begin) / dtype_size(t.dtype));
          st.read_f64(t.name, t.shape, out.data());
        } else {
          st.read_i64(t.name);
        }
      }
    } catch (const Error&) {
      rejected++;
    } catch (...) {
      other++;
    }
  }
  CHECK_MSG(other == 0, "%d mutated files threw something other than electra::Error", other);
  CHECK(ok > 0 && rejected > 0);
}

// ---------------------------------------------------------------------------------------------
// round trips

TEST(round_trip_f32_bit_identical) {
  TempDir dir;
  std::vector<float> w(37);
  std::mt19937 rng(7);
  for (auto& x : w) x = std::uniform_real_distribution<float>(-3, 3)(rng);
  w[0] = -0.0f, w[1] = INFINITY, w[2] = -INFINITY, w[3] = from_bits(0x7FC12345), w[4] = from_bits(1),
  w[5] = 3.4028235e38f;
  std::string path = dir.path + "/model.safetensors";
  save_safetensors(path, {{"layer.weight", DType::F32, {37}, w.data()}}, {});
  auto st = SafeTensors::load(path);
  std::vector<float> out(37);
  st.read_f32("layer.weight", {37}, out.data());
  CHECK(same_bits(w.data(), out.data(), 37 * 4));
  std::vector<double> d(37);
  st.read_f64("layer.weight", {37}, d.data());
  for (int i = 6; i < 37; i++) CHECK(d[i] == (double)w[i]);
  CHECK(std::isnan(d[3]) && std::isinf(d[1]) && std::signbit(d[0]));
}

TEST(round_trip_f64) {
  double w[5] = {0.1, -1.0 / 3, 1e-310, 1.7976931348623157e308, -0.0};
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"d", DType::F64, {5}, w}}, {}), "m");
  double out[5];
  st.read_f64("d", {5}, out);
  CHECK(same_bits(w, out, sizeof w));
  float f[5];
  st.read_f32("d", {5}, f);
  CHECK(f[0] == 0.1f && f[1] == (float)(-1.0 / 3) && f[2] == 0 && std::isinf(f[3]) && std::signbit(f[4]));
}

TEST(reads_f16_including_subnormals_inf_nan) {
  const uint16_t h[] = {0x3C00, 0xC000, 0x0001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7E00, 0x8000, 0x3555, 0x8001};
  const float want[] = {1.0f, -2.0f, 5.9604644775390625e-8f, 6.09755516052246094e-5f, 6.103515625e-5f, 65504.0f,
                        INFINITY, -INFINITY, NAN, -0.0f, 0.333251953125f, -5.9604644775390625e-8f};
  const int n = 12;
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"h", DType::F16, {3, 4}, h}}, {}), "m");
  float out[n];
  st.read_f32("h", {3, 4}, out);
  double d[n];
  st.read_f64("h", {3, 4}, d);
  for (int i = 0; i < n; i++) {
    if (std::isnan(want[i])) {
      CHECK(std::isnan(out[i]) && std::isnan(d[i]));
    } else {
      CHECK_MSG(bits(out[i]) == bits(want[i]), "f16 0x%04X -> %g, want %g", h[i], out[i], want[i]);
      CHECK(d[i] == (double)want[i] && std::signbit(d[i]) == std::signbit(want[i]));
    }
  }
}

TEST(reads_bf16_including_subnormals_inf_nan) {
  const uint16_t h[] = {0x3F80, 0xC000, 0x0001, 0x807F, 0x0080, 0x7F7F, 0x7F80, 0xFF80, 0x7FC0, 0x8000, 0x3EAB};
  const int n = 11;
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"b", DType::BF16, {n}, h}}, {}), "m");
  float out[n];
  st.read_f32("b", {n}, out);
  for (int i = 0; i < n; i++) CHECK(bits(out[i]) == (uint32_t)h[i] << 16);
  CHECK(out[0] == 1.0f && out[1] == -2.0f && out[2] == from_bits(0x00010000) && std::isinf(out[6]) &&
        std::isnan(out[8]) && std::signbit(out[9]));
}

TEST(half_conversions_round_trip_and_round_to_nearest_even) {
  for (uint32_t i = 0; i < 65536; i++) {
    uint16_t h = (uint16_t)i;
    float f = f16_to_f32(h), b = bf16_to_f32(h);
    if (std::isnan(f)) CHECK(std::isnan(f16_to_f32(f32_to_f16(f))));
    else CHECK_MSG(f32_to_f16(f) == h, "f16 0x%04X -> %g -> 0x%04X", h, f, f32_to_f16(f));
    if (std::isnan(b)) CHECK(std::isnan(bf16_to_f32(f32_to_bf16(b))));
    else CHECK_MSG(f32_to_bf16(b) == h, "bf16 0x%04X -> %g -> 0x%04X", h, b, f32_to_bf16(b));
  }
  CHECK(f32_to_f16(1.0f + 1.0f / 2048) == 0x3C00);                      // tie to even (down)
  CHECK(f32_to_f16(1.0f + 3.0f / 2048) == 0x3C02);                      // tie to even (up)
  CHECK(f32_to_f16(65519.0f) == 0x7BFF && f32_to_f16(65520.0f) == 0x7C00);  // overflow threshold
  CHECK(f32_to_f16(1e-8f) == 0x0000 && f32_to_f16(3e-8f) == 0x0001);    // below half the smallest subnormal
  CHECK(f32_to_f16(6.1e-5f) == 0x03FF && f32_to_f16(6.1032e-5f) == 0x0400);  // rounds up into the normals
  CHECK(f32_to_f16(-1e10f) == 0xFC00);
  CHECK(f32_to_bf16(from_bits(0x3F808000)) == 0x3F80 && f32_to_bf16(from_bits(0x3F818000)) == 0x3F82);
  CHECK(f32_to_bf16(from_bits(0x7F7FFFFF)) == 0x7F80);  // rounds to inf
  CHECK((f32_to_bf16(from_bits(0x7F800001)) & 0x7FC0) == 0x7FC0);  // signalling NaN stays NaN
}

TEST(round_trip_integers) {
  int64_t i64[3] = {INT64_MIN, -1, INT64_MAX};
  int32_t i32[2] = {INT32_MIN, 123};
  int16_t i16[2] = {-32768, 32767};
  int8_t i8[2] = {-128, 127};
  uint8_t u8[2] = {0, 255};
  uint8_t bl[3] = {0, 1, 2};
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"i64", DType::I64, {3}, i64}, {"i32", DType::I32, {2}, i32},
                                                       {"i16", DType::I16, {2}, i16}, {"i8", DType::I8, {2}, i8},
                                                       {"u8", DType::U8, {2}, u8}, {"bool", DType::BOOL, {3}, bl}},
                                                      {}),
                                    "m");
  CHECK((st.read_i64("i64") == std::vector<int64_t>{INT64_MIN, -1, INT64_MAX}));
  CHECK((st.read_i64("i32") == std::vector<int64_t>{INT32_MIN, 123}));
  CHECK((st.read_i64("i16") == std::vector<int64_t>{-32768, 32767}));
  CHECK((st.read_i64("i8") == std::vector<int64_t>{-128, 127}));
  CHECK((st.read_i64("u8") == std::vector<int64_t>{0, 255}));
  CHECK((st.read_i64("bool") == std::vector<int64_t>{0, 1, 1}));
}

TEST(zero_size_and_scalar_tensors) {
  float s = 2.5f;
  float v[2] = {1, 2};
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"empty", DType::F32, {0}, nullptr}, {"scalar", DType::F32, {}, &s},
                                                       {"empty2", DType::I64, {3, 0}, nullptr}, {"v", DType::F32, {2}, v}},
                                                      {}),
                                    "m");
  CHECK(st.tensors().size() == 4);
  const TensorInfo* e = st.find("empty");
  CHECK(e && e->shape == std::vector<int64_t>{0} && e->begin == e->end);
  float out = 0;
  st.read_f32("scalar", {}, &out);
  CHECK(out == 2.5f);
  CHECK(st.find("scalar")->shape.empty());
  st.read_f32("empty", {0}, nullptr);  // nothing to copy
  CHECK(st.read_i64("empty2").empty());
  float vo[2];
  st.read_f32("v", {2}, vo);
  CHECK(vo[0] == 1 && vo[1] == 2);
  CHECK_THROWS(st.read_f32("scalar", {1}, &out), "has shape [] but the model expects [1]");
  // a file with no tensors at all
  auto none = SafeTensors::from_bytes(safetensors_bytes({}, {}), "m");
  CHECK(none.tensors().empty() && none.metadata().empty());
}

TEST(metadata_round_trip) {
  std::vector<std::pair<std::string, std::string>> md = {
      {"format", "pt"}, {"step", "1000"}, {"note", "quote \" backslash \\ newline \n tab \t caf\xC3\xA9 \xF0\x9F\x98\x80"},
      {"", ""}};
  float w = 1;
  auto st = SafeTensors::from_bytes(safetensors_bytes({{"w", DType::F32, {1}, &w}}, md), "m");
  CHECK(st.metadata() == md);
  CHECK(st.tensors().size() == 1 && st.tensors()[0].name == "w");
}

TEST(writer_layout_matches_reference) {
  float a[2] = {1, 2};
  uint16_t b[1] = {0x3F80};
  std::string bytes = safetensors_bytes({{"b_first", DType::F32, {2}, a}, {"a_second", DType::BF16, {1, 1}, b}},
                                        {{"format", "pt"}});
  std::string header =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"b_first\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"a_second\":{\"dtype\":\"BF16\",\"shape\":[1,1],\"data_offsets\":[8,10]}}";
  while (header.size() % 8) header += ' ';
  std::string want = with_len(header.size(), header) + std::string((const char*)a, 8) + std::string((const char*)b, 2);
  CHECK(bytes == want);
  CHECK((8 + header.size()) % 8 == 0);
  auto st = SafeTensors::from_bytes(bytes, "m");
  CHECK(st.tensors()[0].name == "b_first" && st.tensors()[1].name == "a_second");  // header order kept
  CHECK(st.tensors()[1].begin == 8 && st.tensors()[1].end == 10);
  CHECK(std::memcmp(st.raw(st.tensors()[1]), b, 2) == 0);
}

TEST(writer_rejects_bad_input) {
  float w[2] = {1, 2};
  CHECK_THROWS(safetensors_bytes({{"w", DType::F32, {2}, w}, {"w", DType::F32, {2}, w}}, {}), "duplicate tensor name \"w\"");
  CHECK_THROWS(safetensors_bytes({{"__metadata__", DType::F32, {2}, w}}, {}), "reserved");
  CHECK_THROWS(safetensors_bytes({{"w", DType::F32, {-2}, w}}, {}), "negative dimension");
  CHECK_THROWS(safetensors_bytes({{"w", DType::F32, {2}, nullptr}}, {}), "no data");
  CHECK_THROWS(safetensors_bytes({{"w", DType::F32, {1ll << 40, 1ll << 40}, w}}, {}), "too large");
  CHECK_THROWS(safetensors_bytes({{"w", DType::F32, {2}, w}}, {{"k", "a"}, {"k", "b"}}), "duplicate metadata key");
  CHECK_THROWS(safetensors_bytes({{"bad\xFF", DType::F32, {2}, w}}, {}), "not valid UTF-8");
  TempDir dir;
  CHECK_THROWS(save_safetensors(dir.path + "/x.safetensors", {{"w", DType::F32, {2}, w}, {"w", DType::F32, {2}, w}}, {}),
               "x.safetensors: duplicate tensor name");
  CHECK(dir.files().empty());
}

// ---------------------------------------------------------------------------------------------
// files

TEST(load_messages_start_with_path) {
  TempDir dir;
  std::string path = dir.path + "/bad.safetensors";
  write_file_atomic(path, with_len(1000, "{}"));
  CHECK_THROWS(SafeTensors::load(path), (path + ": header length 1000").c_str());
  CHECK_THROWS(SafeTensors::load(dir.path + "/absent.safetensors"),
               (dir.path + "/absent.safetensors: cannot read: No such file or directory").c_str());
  CHECK_THROWS(SafeTensors::load(dir.path), "cannot read: Is a directory");
}

TEST(write_file_atomic_replaces_and_leaves_no_temp_files) {
  TempDir dir;
  std::string path = dir.path + "/out.bin";
  write_file_atomic(path, "first version, longer");
  CHECK(read_file(path) == "first version, longer");
  write_file_atomic(path, "second");
  CHECK(read_file(path) == "second");
  write_file_atomic(path, std::vector<std::string_view>{"a", "", "bc"});
  CHECK(read_file(path) == "abc");
  write_file_atomic(path, "");
  CHECK(read_file(path).empty());
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4093) big[i] = (char)i;
  write_file_atomic(path, big);
  CHECK(read_file(path) == big);
  CHECK((dir.files() == std::vector<std::string>{"out.bin"}));
  // a relative path (no directory part) works too
  std::string cwd = fs::current_path().string();
  fs::current_path(dir.path);
  write_file_atomic("rel.bin", "r");
  fs::current_path(cwd);
  CHECK(read_file(dir.path + "/rel.bin") == "r");
}

TEST(write_file_atomic_into_missing_directory_throws) {
  TempDir dir;
  std::string path = dir.path + "/no/such/dir/model.safetensors";
  CHECK_THROWS(write_file_atomic(path, "x"), (path + ": cannot write").c_str());
  CHECK_THROWS(write_file_atomic(path, "x"), "No such file or directory");
  float w = 1;
  CHECK_THROWS(save_safetensors(path, {{"w", DType::F32, {1}, &w}}, {}), path.c_str());
  CHECK(dir.files().empty());
}

TEST(write_file_atomic_failure_removes_temp_and_keeps_old_file) {
  TempDir dir;
  // Renaming over a directory fails (EISDIR) after the temporary file was written.
  fs::create_directory(dir.path + "/target");
  CHECK_THROWS(write_file_atomic(dir.path + "/target", "data"), "/target: cannot write (renaming");
  CHECK((dir.files() == std::vector<std::string>{"target"}));
  // A write that fails part way (file size limit: EFBIG, standing in for ENOSPC).
  std::string path = dir.path + "/model.bin";
  write_file_atomic(path, "old contents");
  struct rlimit old;
  getrlimit(RLIMIT_FSIZE, &old);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
  setrlimit(RLIMIT_FSIZE, &small);
  bool threw = false;
  try {
    write_file_atomic(path, std::string(100000, 'n'));
  } catch (const Error& e) {
    threw = true;
    CHECK(std::strstr(e.what(), (path + ": cannot write: File too large").c_str()) != nullptr);
  }
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, prev);
  CHECK(threw);
  CHECK(read_file(path) == "old contents");
  std::vector<std::string> files = dir.files();
  std::sort(files.begin(), files.end());
  CHECK((files == std::vector<std::string>{"model.bin", "target"}));
  // Permission denied (skipped as root, who may write anywhere).
  if (geteuid() != 0) {
    fs::create_directory(dir.path + "/ro");
    fs::permissions(dir.path + "/ro", fs::perms::owner_read | fs::perms::owner_exec);
    CHECK_THROWS(write_file_atomic(dir.path + "/ro/f", "x"), "Permission denied");
    fs::permissions(dir.path + "/ro", fs::perms::owner_all);
  } else {
    std::printf("  (skipping the permission-denied case: running as root)\n");
  }
}

TEST(read_file_errors_name_the_path) {
  CHECK_THROWS(read_file("/nonexistent-electra/x"), "/nonexistent-electra/x: cannot read: No such file or directory");
  TempDir dir;
  CHECK_THROWS(read_file(dir.path), "cannot read: Is a directory");
}

TEST_MAIN()

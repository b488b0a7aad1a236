// safetensors.cpp: the safetensors reader (validation, dtype conversion) and writer declared in
// safetensors.h. Not a memory-mapped loader and not a general tensor library.
#include "engine/safetensors.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <unordered_set>

#include "engine/common.h"
#include "engine/fileio.h"
#include "engine/json.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors.cpp assumes a little-endian host");

namespace electra {

static constexpr uint64_t kMaxHeader = 100000000;  // 100 MB, as the reference implementation
static const char* kRedo = "; re-download or re-save the checkpoint";

// ---------------------------------------------------------------------------------------------
// dtypes

struct DTypeDesc { DType t; const char* name; size_t size; };
static const DTypeDesc kDTypes[] = {
    {DType::F64, "F64", 8}, {DType::F32, "F32", 4}, {DType::F16, "F16", 2}, {DType::BF16, "BF16", 2},
    {DType::I64, "I64", 8}, {DType::I32, "I32", 4}, {DType::I16, "I16", 2}, {DType::I8, "I8", 1},
    {DType::U8, "U8", 1},   {DType::BOOL, "BOOL", 1},
};

size_t dtype_size(DType t) { return kDTypes[(int)t].size; }
const char* dtype_name(DType t) { return kDTypes[(int)t].name; }
bool dtype_is_float(DType t) { return t == DType::F64 || t == DType::F32 || t == DType::F16 || t == DType::BF16; }
bool dtype_from_name(std::string_view name, DType* out) {
  for (auto& d : kDTypes)
    if (name == d.name) { *out = d.t; return true; }
  return false;
}

static float bits_f32(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }

float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

float f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF;
  if (exp == 0) {  // zero or subnormal: mant * 2^-24, exact in float
    float f = (float)mant * 5.9604644775390625e-8f;
    return bits_f32(f32_bits(f) | sign);
  }
  if (exp == 31) return bits_f32(sign | 0x7F800000 | (mant << 13));  // inf, NaN (payload kept)
  return bits_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t f32_to_f16(float f) {
  uint32_t x = f32_bits(f), ax = x & 0x7FFFFFFF;
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
  if (ax > 0x7F800000) return sign | 0x7E00 | ((ax >> 13) & 0x3FF);  // NaN, quiet
  if (ax >= 0x477FF000) return sign | 0x7C00;                         // >= 65520 rounds to inf
  if (ax < 0x38800000)                                                 // below 2^-14: subnormal
    return sign | (uint16_t)std::nearbyint(bits_f32(ax) * 16777216.0f);  // round(|f| / 2^-24)
  uint32_t h = (((ax >> 23) - 112) << 10) | ((ax >> 13) & 0x3FF), rest = ax & 0x1FFF;
  if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;  // a carry into the exponent is right
  return sign | (uint16_t)h;
}

uint16_t f32_to_bf16(float f) {
  uint32_t x = f32_bits(f);
  if ((x & 0x7FFFFFFF) > 0x7F800000) return (uint16_t)((x >> 16) | 0x40);  // NaN, quiet
  x += 0x7FFF + ((x >> 16) & 1);
  return (uint16_t)(x >> 16);
}

// ---------------------------------------------------------------------------------------------
// Reader

static std::string quoted(const std::string& s) { return "\"" + s + "\""; }
static std::string offsets_str(uint64_t b, uint64_t e) {
  return "[" + std::to_string(b) + ", " + std::to_string(e) + "]";
}

// Element count and byte size of `shape`; false when either overflows.
static bool shape_bytes(const std::vector<int64_t>& shape, size_t elem, uint64_t* bytes) {
  int64_t n = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(n, d, &n)) return false;
  return !__builtin_mul_overflow((uint64_t)n, (uint64_t)elem, bytes);
}

SafeTensors SafeTensors::load(const std::string& path) { return from_bytes(read_file(path), path); }

SafeTensors SafeTensors::from_bytes(std::string bytes, const std::string& what) {
  SafeTensors st;
  st.what_ = what;
  st.bytes_ = std::move(bytes);
  const std::string& b = st.bytes_;
  auto fail = [&](const std::string& msg) { throw Error(what + ": " + msg); };

  if (b.size() < 8)
    fail("file is too short for safetensors (" + std::to_string(b.size()) +
         " bytes; it must start with an 8-byte header length)" + kRedo);
  uint64_t n = 0;
  for (int i = 7; i >= 0; i--) n = (n << 8) | (uint8_t)b[i];
  if (n > kMaxHeader)
    fail("header too large (" + std::to_string(n) + " bytes, limit " + std::to_string(kMaxHeader) +
         "): not a safetensors file, or a corrupt one" + kRedo);
  if (n > b.size() - 8)
    fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(b.size()) +
         " bytes): the file is truncated or not safetensors" + kRedo);
  json::Value h = json::parse(std::string_view(b).substr(8, n), what + ": safetensors header");
  if (h.kind != json::Value::Object)
    fail(std::string("safetensors header is not a JSON object (it is a ") + h.kind_name() + ")" + kRedo);
  st.data_start_ = 8 + n;
  const uint64_t data_len = b.size() - st.data_start_;

  for (auto& [name, v] : h.obj) {
    if (name == "__metadata__") {
      if (v.kind != json::Value::Object)
        fail(std::string("__metadata__ must be an object mapping strings to strings, got ") + v.kind_name());
      for (auto& [k, s] : v.obj) {
        if (s.kind != json::Value::String)
          fail("__metadata__ must map strings to strings, but " + quoted(k) + " is a " + s.kind_name());
        st.metadata_.emplace_back(k, s.str);
      }
      continue;
    }
    const std::string t = what + ": tensor " + quoted(name);
    if (v.kind != json::Value::Object)
      throw Error(t + " must be an object with dtype, shape and data_offsets, got " + v.kind_name());
    TensorInfo info;
    info.name = name;
    std::string dt = v.get_string("dtype", t);
    if (!dtype_from_name(dt, &info.dtype))
      throw Error(t + ": unknown or unsupported dtype " + quoted(dt) +
                  " (supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL)");
    const json::Value* shape = v.find("shape");
    if (!shape) throw Error(t + ": missing \"shape\"");
    if (shape->kind != json::Value::Array)
      throw Error(t + ": \"shape\" must be an array of integers, got " + shape->kind_name());
    for (auto& d : shape->arr) {
      int64_t x = json::as_int(d, t, "shape dimension");
      if (x < 0) throw Error(t + ": negative shape dimension " + std::to_string(x));
      info.shape.push_back(x);
    }
    const json::Value* off = v.find("data_offsets");
    if (!off) throw Error(t + ": missing \"data_offsets\"");
    if (off->kind != json::Value::Array || off->arr.size() != 2)
      throw Error(t + ": \"data_offsets\" must be an array of two integers [begin, end]");
    int64_t begin = json::as_int(off->arr[0], t, "data_offsets begin");
    int64_t end = json::as_int(off->arr[1], t, "data_offsets end");
    if (begin < 0 || end < 0) throw Error(t + ": negative data_offsets " + json::stringify(*off));
    info.begin = (uint64_t)begin, info.end = (uint64_t)end;
    if (info.begin > info.end)
      throw Error(t + ": data_offsets " + offsets_str(info.begin, info.end) + " end before they begin" + kRedo);
    if (info.end > data_len)
      throw Error(t + ": data_offsets " + offsets_str(info.begin, info.end) +
                  " are out of range: the data buffer has only " + std::to_string(data_len) +
                  " bytes (truncated file?)" + kRedo);
    uint64_t nbytes;
    if (!shape_bytes(info.shape, dtype_size(info.dtype), &nbytes))
      throw Error(t + ": shape " + shape_str(info.shape) + " has too many elements (its size overflows 64 bits)");
    if (nbytes != info.end - info.begin)
      throw Error(t + ": size mismatch: " + dt + " " + shape_str(info.shape) + " needs " + std::to_string(nbytes) +
                  " bytes but data_offsets " + offsets_str(info.begin, info.end) + " hold " +
                  std::to_string(info.end - info.begin) + kRedo);
    st.index_.emplace(name, st.tensors_.size());  // names are unique: the JSON parser rejects duplicate keys
    st.tensors_.push_back(std::move(info));
  }

  // The tensors must tile the data buffer exactly, as the reference requires.
  std::vector<size_t> order(st.tensors_.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const TensorInfo &a = st.tensors_[x], &c = st.tensors_[y];
    return a.begin != c.begin ? a.begin < c.begin : a.end < c.end;
  });
  uint64_t covered = 0;
  const TensorInfo* prev = nullptr;
  for (size_t i : order) {
    const TensorInfo& ti = st.tensors_[i];
    if (ti.begin < covered)
      fail("tensors " + quoted(prev->name) + " " + offsets_str(prev->begin, prev->end) + " and " + quoted(ti.name) +
           " " + offsets_str(ti.begin, ti.end) + " overlap in the data buffer" + kRedo);
    if (ti.begin > covered)
      fail("bytes [" + std::to_string(covered) + ", " + std::to_string(ti.begin) +
           ") of the data buffer belong to no tensor (a hole before " + quoted(ti.name) + ")" + kRedo);
    covered = ti.end;
    prev = &ti;
  }
  if (covered != data_len)
    fail("bytes [" + std::to_string(covered) + ", " + std::to_string(data_len) +
         ") at the end of the data buffer belong to no tensor (a hole)" + kRedo);
  return st;
}

const TensorInfo* SafeTensors::find(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& SafeTensors::get(const std::string& name) const {
  const TensorInfo* t = find(name);
  if (!t)
    throw Error(what_ + ": tensor " + quoted(name) + " not found (missing from the checkpoint, which has " +
                std::to_string(tensors_.size()) + " tensors)");
  return *t;
}

const uint8_t* SafeTensors::raw(const TensorInfo& t) const {
  return (const uint8_t*)bytes_.data() + data_start_ + t.begin;
}

const TensorInfo& SafeTensors::get_float(const std::string& name, const std::vector<int64_t>& expected_shape) const {
  const TensorInfo& t = get(name);
  if (!dtype_is_float(t.dtype))
    throw Error(what_ + ": tensor " + quoted(name) + " has dtype " + dtype_name(t.dtype) +
                ", expected a float dtype (F32, F16, BF16, F64)");
  if (t.shape != expected_shape)
    throw Error(what_ + ": tensor " + quoted(name) + " has shape " + shape_str(t.shape) + " but the model expects " +
                shape_str(expected_shape) + " (does the checkpoint match the model config?)");
  return t;
}

// Element i of a little-endian buffer of T (which need not be aligned).
template <typename T>
static T load_le(const uint8_t* p, size_t i) {
  T x;
  std::memcpy(&x, p + sizeof(T) * i, sizeof(T));
  return x;
}

template <typename Out>
static void convert_float(const TensorInfo& t, const uint8_t* p, Out* out) {
  const size_t n = (t.end - t.begin) / dtype_size(t.dtype);
  switch (t.dtype) {
    case DType::F64: for (size_t i = 0; i < n; i++) out[i] = (Out)load_le<double>(p, i); break;
    case DType::F32: for (size_t i = 0; i < n; i++) out[i] = load_le<float>(p, i); break;
    case DType::F16: for (size_t i = 0; i < n; i++) out[i] = f16_to_f32(load_le<uint16_t>(p, i)); break;
    case DType::BF16: for (size_t i = 0; i < n; i++) out[i] = bf16_to_f32(load_le<uint16_t>(p, i)); break;
    default: break;  // not reached: get_float checked the dtype
  }
}

void SafeTensors::read_f32(const std::string& name, const std::vector<int64_t>& expected_shape, float* out) const {
  const TensorInfo& t = get_float(name, expected_shape);
  if (t.dtype != DType::F32) convert_float(t, raw(t), out);
  else if (t.end > t.begin) std::memcpy(out, raw(t), t.end - t.begin);
}

void SafeTensors::read_f64(const std::string& name, const std::vector<int64_t>& expected_shape, double* out) const {
  const TensorInfo& t = get_float(name, expected_shape);
  convert_float(t, raw(t), out);
}

std::vector<int64_t> SafeTensors::read_i64(const std::string& name) const {
  const TensorInfo& t = get(name);
  if (dtype_is_float(t.dtype))
    throw Error(what_ + ": tensor " + quoted(name) + " has dtype " + dtype_name(t.dtype) +
                ", expected an integer dtype (I64, I32, I16, I8, U8, BOOL)");
  const size_t n = (t.end - t.begin) / dtype_size(t.dtype);
  const uint8_t* p = raw(t);
  std::vector<int64_t> out(n);
  switch (t.dtype) {
    case DType::I64: for (size_t i = 0; i < n; i++) out[i] = load_le<int64_t>(p, i); break;
    case DType::I32: for (size_t i = 0; i < n; i++) out[i] = load_le<int32_t>(p, i); break;
    case DType::I16: for (size_t i = 0; i < n; i++) out[i] = load_le<int16_t>(p, i); break;
    case DType::I8: for (size_t i = 0; i < n; i++) out[i] = (int8_t)p[i]; break;
    case DType::U8: for (size_t i = 0; i < n; i++) out[i] = p[i]; break;
    case DType::BOOL: for (size_t i = 0; i < n; i++) out[i] = p[i] != 0; break;
    default: break;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Writer

// The 8-byte length and the padded header; `sizes` receives each tensor's byte size.
static std::string header_bytes(const std::vector<TensorOut>& tensors,
                                const std::vector<std::pair<std::string, std::string>>& metadata,
                                const std::string& what, std::vector<uint64_t>* sizes) {
  json::Value h = json::Value::object();
  if (!metadata.empty()) {
    json::Value m = json::Value::object();
    std::unordered_set<std::string> keys;
    for (auto& [k, v] : metadata) {
      if (!keys.insert(k).second) throw Error(what + ": duplicate metadata key " + quoted(k));
      m.obj.emplace_back(k, json::Value::string(v));
    }
    h.obj.emplace_back("__metadata__", std::move(m));
  }
  std::unordered_set<std::string> names;
  uint64_t offset = 0;
  for (const TensorOut& t : tensors) {
    const std::string tn = what + ": tensor " + quoted(t.name);
    if (t.name == "__metadata__") throw Error(tn + ": the name is reserved by safetensors");
    if (!names.insert(t.name).second) throw Error(what + ": duplicate tensor name " + quoted(t.name));
    json::Value shape = json::Value::array();
    for (int64_t d : t.shape) {
      if (d < 0) throw Error(tn + ": negative dimension in shape " + shape_str(t.shape));
      shape.arr.push_back(json::Value::number((double)d));
    }
    uint64_t nbytes;
    if (!shape_bytes(t.shape, dtype_size(t.dtype), &nbytes) || offset + nbytes > (1ull << 53))
      throw Error(tn + ": shape " + shape_str(t.shape) + " is too large");
    if (nbytes > 0 && !t.data) throw Error(tn + ": no data for a tensor of " + std::to_string(nbytes) + " bytes");
    json::Value offs = json::Value::array();
    offs.arr = {json::Value::number((double)offset), json::Value::number((double)(offset + nbytes))};
    json::Value entry = json::Value::object();
    entry.obj.emplace_back("dtype", json::Value::string(dtype_name(t.dtype)));
    entry.obj.emplace_back("shape", std::move(shape));
    entry.obj.emplace_back("data_offsets", std::move(offs));
    h.obj.emplace_back(t.name, std::move(entry));
    sizes->push_back(nbytes);
    offset += nbytes;
  }
  std::string out(8, '\0');
  try {
    out += json::stringify(h);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
  out.append((8 - out.size() % 8) % 8, ' ');
  uint64_t n = out.size() - 8;
  for (int i = 0; i < 8; i++) out[i] = (char)(n >> (8 * i));
  return out;
}

std::string safetensors_bytes(const std::vector<TensorOut>& tensors,
                              const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<uint64_t> sizes;
  std::string out = header_bytes(tensors, metadata, "safetensors", &sizes);
  for (size_t i = 0; i < tensors.size(); i++)
    if (sizes[i]) out.append((const char*)tensors[i].data, sizes[i]);
  return out;
}

void save_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata) {
  std::vector<uint64_t> sizes;
  std::string header = header_bytes(tensors, metadata, path, &sizes);
  std::vector<std::string_view> parts{header};
  for (size_t i = 0; i < tensors.size(); i++) parts.emplace_back((const char*)tensors[i].data, sizes[i]);
  write_file_atomic(path, parts);
}

}  // namespace electra

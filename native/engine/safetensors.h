// safetensors.h: reads and writes the safetensors format: an 8-byte little-endian u64 header
// length N, N bytes of JSON header, then the raw little-endian data buffer
// (https://github.com/huggingface/safetensors, "Format"). Not memory-mapped: load() reads the whole
// file. Assumes a little-endian host.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace electra {

// The dtypes this engine reads and writes (a subset of safetensors': no U16/U32/U64, no FP8).
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL };
size_t dtype_size(DType);
const char* dtype_name(DType);                        // "F32", ...
bool dtype_from_name(std::string_view name, DType* out);  // false if unknown
bool dtype_is_float(DType);                           // F64, F32, F16, BF16

// IEEE half and bfloat16 conversions. To float: exact (subnormals, inf and NaN included).
// From float: round to nearest even; overflow gives inf; NaN stays NaN (quiet).
float f16_to_f32(uint16_t h);
float bf16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);
uint16_t f32_to_bf16(float f);

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data buffer
};

class SafeTensors {
 public:
  // Reads the whole file into memory and validates it like the reference implementation: the
  // tensors must tile the data buffer exactly (no overlap, no hole) and each byte range must match
  // its dtype and shape. Every problem throws electra::Error whose message starts with the path.
  static SafeTensors load(const std::string& path);
  // The same validation for bytes in memory; `what` starts the error messages.
  static SafeTensors from_bytes(std::string bytes, const std::string& what);

  const std::vector<TensorInfo>& tensors() const { return tensors_; }  // in header order
  const TensorInfo* find(const std::string& name) const;               // nullptr if absent
  const std::vector<std::pair<std::string, std::string>>& metadata() const { return metadata_; }  // "__metadata__"

  // Copies tensor `name` converted to float (from F32, F16, BF16, F64; F64 rounds). Throws if it
  // is absent, not a float dtype, or its shape differs from `expected_shape` (the message names the
  // tensor, both shapes and the file).
  void read_f32(const std::string& name, const std::vector<int64_t>& expected_shape, float* out) const;
  // Same, to double (exact for every float dtype).
  void read_f64(const std::string& name, const std::vector<int64_t>& expected_shape, double* out) const;
  // Tensor `name` as int64 (from I64, I32, I16, I8, U8; BOOL gives 0 or 1). Throws if absent or a
  // float dtype.
  std::vector<int64_t> read_i64(const std::string& name) const;
  // The tensor's bytes (end - begin of them), little-endian, not necessarily aligned.
  const uint8_t* raw(const TensorInfo& t) const;

 private:
  std::string what_;   // the path, for messages
  std::string bytes_;  // the whole file
  size_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::vector<std::pair<std::string, std::string>> metadata_;
  std::unordered_map<std::string, size_t> index_;
  const TensorInfo& get(const std::string& name) const;  // throws "not found"
  const TensorInfo& get_float(const std::string& name, const std::vector<int64_t>& expected_shape) const;
};

struct TensorOut {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const void* data = nullptr;  // numel * dtype_size bytes, little-endian; may be null when that is 0
};

// The file's bytes: header with "__metadata__" first (omitted when `metadata` is empty), then the
// tensors in the given order, data laid out in the same order; the header is padded with spaces
// so the data starts at a multiple of 8, as the reference writer does. Throws electra::Error on
// duplicate or reserved names, negative dims, or null data for a non-empty tensor.
std::string safetensors_bytes(const std::vector<TensorOut>& tensors,
                              const std::vector<std::pair<std::string, std::string>>& metadata);
// The same bytes, written atomically (write_file_atomic) without first copying the data into one
// buffer.
void save_safetensors(const std::string& path, const std::vector<TensorOut>& tensors,
                      const std::vector<std::pair<std::string, std::string>>& metadata);

}  // namespace electra

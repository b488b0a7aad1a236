// json.h: a small, strict JSON parser and writer (RFC 8259), enough for config.json and safetensors
// headers. Not a streaming parser and not fast on large documents; numbers are held as double.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace electra::json {

struct Value {
  enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Value> arr;
  std::vector<std::pair<std::string, Value>> obj;  // keeps key order; duplicate keys are a parse error

  static Value null() { return Value(); }
  static Value boolean(bool x);
  static Value number(double x);
  static Value string(std::string s);
  static Value array();
  static Value object();
  Value& set(std::string key, Value v);  // object: replaces an existing key or appends; returns *this
  Value& push(Value v);                  // array: appends; returns *this

  const Value* find(std::string_view key) const;  // object lookup, nullptr if absent or not an object
  bool is_integer() const;                        // Number with an exact integer value
  const char* kind_name() const;                  // "null", "boolean", "number", ...

  // Typed getters: throw electra::Error naming `what` and the key when the key is missing or the
  // type is wrong. get_int accepts integers with |x| <= 2^53 (exactly representable as double).
  int64_t get_int(std::string_view key, const std::string& what) const;
  double get_number(std::string_view key, const std::string& what) const;
  std::string get_string(std::string_view key, const std::string& what) const;
  bool get_bool(std::string_view key, const std::string& what) const;
  // Same, but return `fallback` when the key is absent or null (a present value of the wrong type
  // still throws).
  int64_t get_int_or(std::string_view key, const std::string& what, int64_t fallback) const;
  double get_number_or(std::string_view key, const std::string& what, double fallback) const;
  std::string get_string_or(std::string_view key, const std::string& what, std::string fallback) const;
  bool get_bool_or(std::string_view key, const std::string& what, bool fallback) const;
};

// The value as an integer (|x| <= 2^53); throws electra::Error "<what>: <name> must be an integer ...".
int64_t as_int(const Value& v, const std::string& what, std::string_view name);

// Parses `text` (UTF-8; a leading byte-order mark is skipped). On error throws
// electra::Error("<what>: invalid JSON at line L, column C: <reason>"); columns count bytes from 1.
// Rejects: nesting deeper than 256, duplicate object keys, invalid UTF-8, lone surrogates, control
// characters in strings, leading zeros, NaN/Infinity, numbers beyond the double range (numbers
// too small for a double become 0), trailing garbage.
Value parse(std::string_view text, const std::string& what);

// Writes compact JSON (indent < 0) or pretty JSON with `indent` spaces per level. Integers with
// |x| <= 2^53 print as integers (30522, -0 as "-0"); other numbers print in the shortest form that
// reads back to the same double. Control characters are escaped as \u00XX, other bytes are written
// as-is. Throws electra::Error for NaN/Infinity and for strings that are not valid UTF-8.
std::string stringify(const Value& v, int indent = -1);

}  // namespace electra::json

// json.cpp: the strict JSON parser and writer declared in json.h. Recursive descent over a
// string_view; no allocation beyond the values it builds.
#include "engine/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "engine/common.h"

namespace electra::json {

static constexpr int kMaxDepth = 256;
static constexpr double kMaxExactInt = 9007199254740992.0;  // 2^53

// ---------------------------------------------------------------------------------------------
// Value

Value Value::boolean(bool x) { Value v; v.kind = Bool; v.b = x; return v; }
Value Value::number(double x) { Value v; v.kind = Number; v.num = x; return v; }
Value Value::string(std::string s) { Value v; v.kind = String; v.str = std::move(s); return v; }
Value Value::array() { Value v; v.kind = Array; return v; }
Value Value::object() { Value v; v.kind = Object; return v; }

Value& Value::set(std::string key, Value v) {
  if (kind != Object) throw Error("json::Value::set on a " + std::string(kind_name()) + ", not an object");
  for (auto& kv : obj)
    if (kv.first == key) { kv.second = std::move(v); return *this; }
  obj.emplace_back(std::move(key), std::move(v));
  return *this;
}

Value& Value::push(Value v) {
  if (kind != Array) throw Error("json::Value::push on a " + std::string(kind_name()) + ", not an array");
  arr.push_back(std::move(v));
  return *this;
}

const Value* Value::find(std::string_view key) const {
  if (kind != Object) return nullptr;
  for (auto& kv : obj)
    if (kv.first == key) return &kv.second;
  return nullptr;
}

bool Value::is_integer() const { return kind == Number && std::isfinite(num) && num == std::floor(num); }

const char* Value::kind_name() const {
  static const char* names[] = {"null", "boolean", "number", "string", "array", "object"};
  return names[kind];
}

static std::string quoted(std::string_view key) { return "\"" + std::string(key) + "\""; }

int64_t as_int(const Value& v, const std::string& what, std::string_view name) {
  if (v.kind != Value::Number)
    throw Error(what + ": " + std::string(name) + " must be an integer, got " + v.kind_name());
  if (!v.is_integer())
    throw Error(what + ": " + std::string(name) + " must be an integer, got " + stringify(v));
  if (std::fabs(v.num) > kMaxExactInt)
    throw Error(what + ": " + std::string(name) + " is too large (" + stringify(v) + ", limit 2^53)");
  return (int64_t)v.num;
}

// The member `key` of an object, nullptr if absent; throws if `v` is not an object.
static const Value* member(const Value& v, std::string_view key, const std::string& what) {
  if (v.kind != Value::Object) throw Error(what + ": expected a JSON object, got " + v.kind_name());
  return v.find(key);
}

static const Value& required(const Value& v, std::string_view key, const std::string& what) {
  const Value* m = member(v, key, what);
  if (!m) throw Error(what + ": missing " + quoted(key));
  return *m;
}

static void expect_kind(const Value& v, Value::Kind k, const char* kname, std::string_view key,
                        const std::string& what) {
  if (v.kind != k) throw Error(what + ": " + quoted(key) + " must be a " + kname + ", got " + v.kind_name());
}

int64_t Value::get_int(std::string_view key, const std::string& what) const {
  return as_int(required(*this, key, what), what, quoted(key));
}
double Value::get_number(std::string_view key, const std::string& what) const {
  const Value& m = required(*this, key, what);
  expect_kind(m, Number, "number", key, what);
  return m.num;
}
std::string Value::get_string(std::string_view key, const std::string& what) const {
  const Value& m = required(*this, key, what);
  expect_kind(m, String, "string", key, what);
  return m.str;
}
bool Value::get_bool(std::string_view key, const std::string& what) const {
  const Value& m = required(*this, key, what);
  expect_kind(m, Bool, "boolean", key, what);
  return m.b;
}

static bool absent(const Value& v, std::string_view key, const std::string& what) {
  const Value* m = member(v, key, what);
  return !m || m->kind == Value::Null;
}
int64_t Value::get_int_or(std::string_view key, const std::string& what, int64_t fallback) const {
  return absent(*this, key, what) ? fallback : get_int(key, what);
}
double Value::get_number_or(std::string_view key, const std::string& what, double fallback) const {
  return absent(*this, key, what) ? fallback : get_number(key, what);
}
std::string Value::get_string_or(std::string_view key, const std::string& what, std::string fallback) const {
  return absent(*this, key, what) ? fallback : get_string(key, what);
}
bool Value::get_bool_or(std::string_view key, const std::string& what, bool fallback) const {
  return absent(*this, key, what) ? fallback : get_bool(key, what);
}

// ---------------------------------------------------------------------------------------------
// UTF-8

// Length of the well-formed UTF-8 sequence at p (n bytes available), 0 if ill-formed
// (Unicode table 3-7: no overlongs, no surrogates, nothing above U+10FFFF).
static size_t utf8_len(const unsigned char* p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    len = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < len || p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < len; i++)
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  return len;
}

static void put_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += (char)cp;
  } else if (cp < 0x800) {
    out += (char)(0xC0 | (cp >> 6));
    out += (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += (char)(0xE0 | (cp >> 12));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  } else {
    out += (char)(0xF0 | (cp >> 18));
    out += (char)(0x80 | ((cp >> 12) & 0x3F));
    out += (char)(0x80 | ((cp >> 6) & 0x3F));
    out += (char)(0x80 | (cp & 0x3F));
  }
}

// ---------------------------------------------------------------------------------------------
// Parser

namespace {

struct Parser {
  std::string_view s;
  const std::string& what;
  size_t pos = 0;

  [[noreturn]] void fail_at(size_t at, const std::string& reason) const {
    size_t line = 1, line_start = 0;
    for (size_t i = 0; i < at && i < s.size(); i++)
      if (s[i] == '\n') line++, line_start = i + 1;
    throw Error(what + ": invalid JSON at line " + std::to_string(line) + ", column " +
                std::to_string(at - line_start + 1) + ": " + reason);
  }
  [[noreturn]] void fail(const std::string& reason) const { fail_at(pos, reason); }

  std::string describe_here() const {
    if (pos >= s.size()) return "end of input";
    unsigned char c = (unsigned char)s[pos];
    char buf[16];
    if (c >= 0x20 && c < 0x7F) std::snprintf(buf, sizeof buf, "'%c'", c);
    else std::snprintf(buf, sizeof buf, "byte 0x%02X", c);
    return buf;
  }
  [[noreturn]] void unexpected(const char* expected) const {
    fail("expected " + std::string(expected) + ", found " + describe_here());
  }

  void skip_ws() {
    while (pos < s.size() && (s[pos] == ' ' || s[pos] == '\t' || s[pos] == '\n' || s[pos] == '\r')) pos++;
  }
  bool eat(char c) {
    if (pos < s.size() && s[pos] == c) { pos++; return true; }
    return false;
  }
  bool is_digit() const { return pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; }

  Value parse_value(int depth) {
    skip_ws();
    if (pos >= s.size()) unexpected("a value");
    char c = s[pos];
    if (c == '{' || c == '[') {
      if (depth >= kMaxDepth) fail("nesting deeper than " + std::to_string(kMaxDepth) + " levels");
      return c == '{' ? parse_object(depth + 1) : parse_array(depth + 1);
    }
    if (c == '"') return Value::string(parse_string());
    if (c == '-' || (c >= '0' && c <= '9')) return Value::number(parse_number());
    if (literal("true")) return Value::boolean(true);
    if (literal("false")) return Value::boolean(false);
    if (literal("null")) return Value();
    if (c == 'N' || c == 'I') fail("NaN and Infinity are not valid JSON");
    unexpected("a value");
  }

  bool literal(std::string_view word) {
    if (s.substr(pos, word.size()) != word) return false;
    pos += word.size();
    return true;
  }

  Value parse_array(int depth) {
    Value v = Value::array();
    pos++;  // '['
    skip_ws();
    if (eat(']')) return v;
    for (;;) {
      v.arr.push_back(parse_value(depth));
      skip_ws();
      if (eat(']')) return v;
      if (!eat(',')) unexpected("',' or ']' in array");
    }
  }

  Value parse_object(int depth) {
    Value v = Value::object();
    std::vector<size_t> key_pos;
    pos++;  // '{'
    skip_ws();
    if (!eat('}')) {
      for (;;) {
        skip_ws();
        if (pos >= s.size() || s[pos] != '"') unexpected("a string key in object");
        key_pos.push_back(pos);
        std::string key = parse_string();
        skip_ws();
        if (!eat(':')) unexpected("':' after object key");
        v.obj.emplace_back(std::move(key), parse_value(depth));
        skip_ws();
        if (eat('}')) break;
        if (!eat(',')) unexpected("',' or '}' in object");
      }
    }
    check_duplicates(v, key_pos);
    return v;
  }

  // Sorting keeps this O(n log n) even for a hostile header with a million keys.
  void check_duplicates(const Value& v, const std::vector<size_t>& key_pos) const {
    if (v.obj.size() < 2) return;
    std::vector<size_t> idx(v.obj.size());
    for (size_t i = 0; i < idx.size(); i++) idx[i] = i;
    std::sort(idx.begin(), idx.end(), [&](size_t a, size_t b) {
      int c = v.obj[a].first.compare(v.obj[b].first);
      return c != 0 ? c < 0 : a < b;
    });
    size_t first_dup = SIZE_MAX;
    for (size_t i = 1; i < idx.size(); i++)
      if (v.obj[idx[i]].first == v.obj[idx[i - 1]].first) first_dup = std::min(first_dup, idx[i]);
    if (first_dup != SIZE_MAX) fail_at(key_pos[first_dup], "duplicate key " + quoted(v.obj[first_dup].first));
  }

  uint32_t parse_hex4() {
    uint32_t cp = 0;
    for (int i = 0; i < 4; i++, pos++) {
      char c = pos < s.size() ? s[pos] : 0;
      int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10
            : (c >= 'A' && c <= 'F') ? c - 'A' + 10 : -1;
      if (d < 0) unexpected("4 hex digits after \\u");
      cp = cp * 16 + (uint32_t)d;
    }
    return cp;
  }

  std::string parse_string() {
    std::string out;
    pos++;  // opening quote
    for (;;) {
      size_t run = pos;
      while (pos < s.size() && (unsigned char)s[pos] >= 0x20 && (unsigned char)s[pos] < 0x80 &&
             s[pos] != '"' && s[pos] != '\\')
        pos++;
      out.append(s.data() + run, pos - run);
      if (pos >= s.size()) fail("unterminated string");
      unsigned char c = (unsigned char)s[pos];
      if (c == '"') { pos++; return out; }
      if (c < 0x20) {
        char buf[64];
        std::snprintf(buf, sizeof buf, "control character U+%04X in string (write it as \\u%04X)", c, c);
        fail(buf);
      }
      if (c >= 0x80) {
        size_t n = utf8_len((const unsigned char*)s.data() + pos, s.size() - pos);
        if (!n) fail("invalid UTF-8 in string (" + describe_here() + ")");
        out.append(s.data() + pos, n);
        pos += n;
        continue;
      }
      size_t esc = pos++;  // backslash
      char e = pos < s.size() ? s[pos] : 0;
      pos++;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = parse_hex4();
          if (cp >= 0xDC00 && cp <= 0xDFFF) fail_at(esc, "lone low surrogate in \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (s.substr(pos, 2) != "\\u") fail_at(esc, "high surrogate not followed by a \\u low surrogate");
            pos += 2;
            uint32_t lo = parse_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail_at(esc, "high surrogate not followed by a low surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          pos = esc + 1;
          unexpected("an escape (\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX) after backslash");
      }
    }
  }

  double parse_number() {
    size_t start = pos;
    bool neg = eat('-');
    if (!is_digit()) {
      if (pos < s.size() && s[pos] == 'I') fail("NaN and Infinity are not valid JSON");
      unexpected("a digit");
    }
    // Decimal magnitude, to tell overflow from underflow when from_chars reports out of range.
    int64_t mag = 0;
    bool nonzero_int = s[pos] != '0';
    if (eat('0')) {
      if (is_digit()) fail("leading zeros are not allowed in numbers");
    } else {
      while (is_digit()) pos++, mag++;
    }
    if (eat('.')) {
      if (!is_digit()) unexpected("a digit after '.'");
      bool seen_nonzero = false;
      while (is_digit()) {
        if (!nonzero_int && !seen_nonzero) {
          if (s[pos] == '0') mag--;
          else seen_nonzero = true;
        }
        pos++;
      }
    }
    if (pos < s.size() && (s[pos] == 'e' || s[pos] == 'E')) {
      pos++;
      bool eneg = false;
      if (!eat('+')) eneg = eat('-');
      if (!is_digit()) unexpected("a digit in the exponent");
      int64_t e = 0;
      while (is_digit()) e = std::min<int64_t>(e * 10 + (s[pos++] - '0'), 1000000);
      mag += eneg ? -e : e;
    }
    double x = 0;
    auto r = std::from_chars(s.data() + start + (neg ? 1 : 0), s.data() + pos, x);
    if (r.ec == std::errc::result_out_of_range) {
      if (mag > 0) fail_at(start, "number " + std::string(s.substr(start, pos - start)) + " is too large for a double");
      x = 0;  // underflow: too small for a double
    } else if (r.ec != std::errc() || r.ptr != s.data() + pos) {
      fail_at(start, "malformed number");
    }
    return neg ? -x : x;
  }
};

}  // namespace

Value parse(std::string_view text, const std::string& what) {
  Parser p{text, what};
  if (text.substr(0, 3) == "\xEF\xBB\xBF") p.pos = 3;
  Value v = p.parse_value(0);
  p.skip_ws();
  if (p.pos != text.size()) p.fail("unexpected " + p.describe_here() + " after the JSON value");
  return v;
}

// ---------------------------------------------------------------------------------------------
// Writer

static void write_number(std::string& out, double x) {
  if (!std::isfinite(x)) throw Error("cannot write NaN or Infinity as JSON");
  if (x == std::floor(x) && std::fabs(x) <= kMaxExactInt) {
    out += (x == 0 && std::signbit(x)) ? "-0" : std::to_string((int64_t)x);
    return;
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, x);  // shortest form that round-trips
  out.append(buf, r.ptr);
}

static void write_string(std::string& out, const std::string& str) {
  out += '"';
  const unsigned char* p = (const unsigned char*)str.data();
  for (size_t i = 0; i < str.size();) {
    unsigned char c = p[i];
    if (c >= 0x80) {
      size_t n = utf8_len(p + i, str.size() - i);
      if (!n) throw Error("cannot write JSON: string is not valid UTF-8 (byte 0x" +
                          std::string(1, "0123456789ABCDEF"[c >> 4]) + "0123456789ABCDEF"[c & 15] + ")");
      out.append(str, i, n);
      i += n;
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04X", c);
          out += buf;
        } else {
          out += (char)c;
        }
    }
    i++;
  }
  out += '"';
}

static void write_value(std::string& out, const Value& v, int indent, int level) {
  auto newline = [&](int lvl) {
    if (indent < 0) return;
    out += '\n';
    out.append((size_t)indent * (size_t)lvl, ' ');
  };
  switch (v.kind) {
    case Value::Null: out += "null"; break;
    case Value::Bool: out += v.b ? "true" : "false"; break;
    case Value::Number: write_number(out, v.num); break;
    case Value::String: write_string(out, v.str); break;
    case Value::Array:
      out += '[';
      for (size_t i = 0; i < v.arr.size(); i++) {
        if (i) out += ',';
        newline(level + 1);
        write_value(out, v.arr[i], indent, level + 1);
      }
      if (!v.arr.empty()) newline(level);
      out += ']';
      break;
    case Value::Object:
      out += '{';
      for (size_t i = 0; i < v.obj.size(); i++) {
        if (i) out += ',';
        newline(level + 1);
        write_string(out, v.obj[i].first);
        out += indent < 0 ? ":" : ": ";
        write_value(out, v.obj[i].second, indent, level + 1);
      }
      if (!v.obj.empty()) newline(level);
      out += '}';
      break;
  }
}

std::string stringify(const Value& v, int indent) {
  std::string out;
  write_value(out, v, indent, 0);
  return out;
}

}  // namespace electra::json

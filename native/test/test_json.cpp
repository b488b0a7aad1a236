// test_json.cpp: the strict JSON parser and writer (engine/json.h): values, escapes, numbers,
// limits, error positions, and stringify round trips.
#include <cmath>
#include <cstring>

#include "check.h"
#include "engine/common.h"
#include "engine/json.h"

using electra::json::parse;
using electra::json::stringify;
using electra::json::Value;

static Value P(const std::string& s) { return parse(s, "test.json"); }

TEST(parses_scalars_and_containers) {
  Value v = P(" {\"a\": [1, 2.5, true, false, null, \"x\"], \"b\": {}, \"c\": []} ");
  CHECK(v.kind == Value::Object);
  CHECK(v.obj.size() == 3);
  CHECK(v.obj[0].first == "a" && v.obj[1].first == "b" && v.obj[2].first == "c");  // key order kept
  const Value* a = v.find("a");
  CHECK(a && a->kind == Value::Array && a->arr.size() == 6);
  CHECK(a->arr[0].num == 1 && a->arr[0].is_integer());
  CHECK(a->arr[1].num == 2.5 && !a->arr[1].is_integer());
  CHECK(a->arr[2].kind == Value::Bool && a->arr[2].b);
  CHECK(a->arr[3].kind == Value::Bool && !a->arr[3].b);
  CHECK(a->arr[4].kind == Value::Null);
  CHECK(a->arr[5].kind == Value::String && a->arr[5].str == "x");
  CHECK(v.find("b")->kind == Value::Object && v.find("b")->obj.empty());
  CHECK(v.find("missing") == nullptr);
  CHECK(a->find("a") == nullptr);  // not an object
  CHECK(P("\t\r\n 42 \n").num == 42);
  CHECK(P("\"\"").str.empty());
  CHECK(P("\xEF\xBB\xBF{}").kind == Value::Object);  // byte-order mark skipped
}

TEST(string_escapes) {
  CHECK(P(R"("a\"b\\c\/d\be\ff\ng\rh\ti")").str == "a\"b\\c/d\be\ff\ng\rh\ti");
  CHECK(P(R"("\u0041\u00e9\u20AC")").str == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(P(R"("\u0000")").str == std::string(1, '\0'));
  CHECK(P("\"caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80\"").str == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}

TEST(surrogate_pairs) {
  CHECK(P(R"("\uD83D\uDE00")").str == "\xF0\x9F\x98\x80");  // U+1F600
  CHECK(P(R"("\ud800\udc00")").str == "\xF0\x90\x80\x80");  // U+10000
  CHECK(P(R"("\uDBFF\uDFFF")").str == "\xF4\x8F\xBF\xBF");  // U+10FFFF
  CHECK_THROWS(P(R"("\uD83D")"), "surrogate");
  CHECK_THROWS(P(R"("\uD83Dx")"), "surrogate");
  CHECK_THROWS(P(R"("\uD83D\u0041")"), "low surrogate");
  CHECK_THROWS(P(R"("\uDE00")"), "lone low surrogate");
  CHECK_THROWS(P(R"("\u12G4")"), "hex digits");
  CHECK_THROWS(P(R"("\u12")"), "hex digits");
}

TEST(string_errors) {
  CHECK_THROWS(P("\"abc"), "unterminated string");
  CHECK_THROWS(P("\"a\nb\""), "control character U+000A");
  CHECK_THROWS(P(std::string("\"a\0b\"", 5)), "control character U+0000");
  CHECK_THROWS(P(R"("\x")"), "escape");
  CHECK_THROWS(P("\"\\"), "escape");
  CHECK_THROWS(P("'single'"), "expected a value");
  // invalid UTF-8: stray continuation, overlong, surrogate, beyond U+10FFFF, truncated
  CHECK_THROWS(P("\"\x80\""), "invalid UTF-8");
  CHECK_THROWS(P("\"\xC0\xAF\""), "invalid UTF-8");
  CHECK_THROWS(P("\"\xED\xA0\x80\""), "invalid UTF-8");
  CHECK_THROWS(P("\"\xF4\x90\x80\x80\""), "invalid UTF-8");
  CHECK_THROWS(P("\"\xE2\x82\""), "invalid UTF-8");
  CHECK_THROWS(P("\"\xE2\x82"), "invalid UTF-8");
}

TEST(numbers) {
  Value z = P("-0");
  CHECK(z.num == 0 && std::signbit(z.num) && z.is_integer());
  CHECK(P("1e300").num == 1e300);
  CHECK(P("1.5e-7").num == 1.5e-7);
  CHECK(P("1.5E-7").num == 1.5e-7);
  CHECK(P("2e+3").num == 2000);
  CHECK(P("-12.25").num == -12.25);
  CHECK(P("0.1").num == 0.1);
  CHECK(P("9007199254740992").num == 9007199254740992.0);  // 2^53
  CHECK(P("-9007199254740992").num == -9007199254740992.0);
  CHECK(P("30522").is_integer());
  CHECK(P("1.0").is_integer());
  CHECK(P("1e-310").num == 1e-310);  // subnormal
  CHECK(P("1e-400").num == 0);       // too small for a double: zero
  CHECK(P("0.0000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
          "000000000000000000000000000000000000000000000000000000000000000000000000000000000000001")
            .num == 0);
  CHECK(std::signbit(P("-1e-400").num));
  CHECK(P("1.7976931348623157e308").num == 1.7976931348623157e308);
  CHECK_THROWS(P("1e400"), "too large");
  CHECK_THROWS(P("-1e99999999999999999999"), "too large");
  CHECK_THROWS(P("01"), "leading zeros");
  CHECK_THROWS(P("-01"), "leading zeros");
  CHECK_THROWS(P("1."), "digit after '.'");
  CHECK_THROWS(P(".5"), "expected a value");
  CHECK_THROWS(P("1e"), "exponent");
  CHECK_THROWS(P("1e+"), "exponent");
  CHECK_THROWS(P("-"), "digit");
  CHECK_THROWS(P("+1"), "expected a value");
  CHECK_THROWS(P("NaN"), "NaN and Infinity");
  CHECK_THROWS(P("Infinity"), "NaN and Infinity");
  CHECK_THROWS(P("-Infinity"), "NaN and Infinity");
  CHECK_THROWS(P("0x10"), "after the JSON value");
}

TEST(structural_errors_with_line_and_column) {
  CHECK_THROWS(P(""), "test.json: invalid JSON at line 1, column 1: expected a value, found end of input");
  CHECK_THROWS(P("{\n  \"a\": 1,\n  \"b\" 2\n}"), "line 3, column 7: expected ':'");
  CHECK_THROWS(P("[1, 2,]"), "line 1, column 7: expected a value");
  CHECK_THROWS(P("{\"a\":1,}"), "expected a string key");
  CHECK_THROWS(P("[1 2]"), "expected ',' or ']'");
  CHECK_THROWS(P("{\"a\":1 \"b\":2}"), "expected ',' or '}'");
  CHECK_THROWS(P("{} {}"), "line 1, column 4: unexpected '{' after the JSON value");
  CHECK_THROWS(P("[1]\n\n  x"), "line 3, column 3");
  CHECK_THROWS(P("tru"), "expected a value");
  CHECK_THROWS(P("nul"), "expected a value");
  CHECK_THROWS(P("[\x01]"), "byte 0x01");
  CHECK_THROWS(P("{\"k\":1,\n\"k\":2}"), "line 2, column 1: duplicate key \"k\"");
  CHECK_THROWS(P("{\"b\":1,\"a\":2,\"c\":3,\"a\":4,\"b\":5}"), "duplicate key \"a\"");  // first in order
  CHECK_THROWS(P("[[[[[]]]]"), "end of input");
}

TEST(nesting_limit) {
  std::string ok = std::string(256, '[') + std::string(256, ']');
  Value v = P(ok);
  int depth = 0;
  for (const Value* p = &v; p->kind == Value::Array; p = p->arr.empty() ? nullptr : &p->arr[0]) {
    depth++;
    if (p->arr.empty()) break;
  }
  CHECK(depth == 256);
  CHECK_THROWS(P(std::string(257, '[') + std::string(257, ']')), "nesting deeper than 256");
  std::string objs;
  for (int i = 0; i < 300; i++) objs += "{\"a\":";
  CHECK_THROWS(P(objs), "nesting deeper than 256");
  CHECK_THROWS(P(std::string(100000, '[')), "nesting deeper than 256");  // no stack overflow
}

TEST(typed_getters) {
  Value v = P(R"({"n": 12, "f": 0.5, "s": "str", "b": true, "big": 1e17, "z": null})");
  CHECK(v.get_int("n", "config.json") == 12);
  CHECK(v.get_number("f", "config.json") == 0.5);
  CHECK(v.get_number("n", "config.json") == 12);
  CHECK(v.get_string("s", "config.json") == "str");
  CHECK(v.get_bool("b", "config.json"));
  CHECK_THROWS(v.get_int("f", "config.json"), "config.json: \"f\" must be an integer, got 0.5");
  CHECK_THROWS(v.get_int("s", "config.json"), "config.json: \"s\" must be an integer, got string");
  CHECK_THROWS(v.get_int("big", "config.json"), "\"big\" is too large");
  CHECK_THROWS(v.get_string("n", "config.json"), "config.json: \"n\" must be a string, got number");
  CHECK_THROWS(v.get_number("s", "config.json"), "\"s\" must be a number, got string");
  CHECK_THROWS(v.get_bool("n", "config.json"), "\"n\" must be a boolean");
  CHECK_THROWS(v.get_int("absent", "config.json"), "config.json: missing \"absent\"");
  CHECK_THROWS(P("[1]").get_int("n", "config.json"), "expected a JSON object, got array");
  CHECK(v.get_int_or("absent", "c", 7) == 7);
  CHECK(v.get_int_or("z", "c", 7) == 7);  // null counts as absent
  CHECK(v.get_int_or("n", "c", 7) == 12);
  CHECK(v.get_number_or("absent", "c", 1.5) == 1.5);
  CHECK(v.get_string_or("absent", "c", "d") == "d");
  CHECK(v.get_bool_or("absent", "c", false) == false);
  CHECK_THROWS(v.get_int_or("s", "c", 7), "must be an integer");
}

TEST(builders) {
  Value v = Value::object();
  v.set("b", Value::number(1)).set("a", Value::string("x")).set("b", Value::number(2));
  CHECK(v.obj.size() == 2 && v.obj[0].first == "b" && v.find("b")->num == 2);
  Value arr = Value::array();
  arr.push(Value::boolean(true)).push(Value::null());
  v.set("arr", arr);
  CHECK(stringify(v) == R"({"b":2,"a":"x","arr":[true,null]})");
  CHECK_THROWS(arr.set("k", Value()), "not an object");
  CHECK_THROWS(v.push(Value()), "not an array");
}

TEST(stringify_numbers) {
  CHECK(stringify(Value::number(30522)) == "30522");
  CHECK(stringify(Value::number(100000)) == "100000");
  CHECK(stringify(Value::number(-3)) == "-3");
  CHECK(stringify(Value::number(-0.0)) == "-0");
  CHECK(stringify(Value::number(0)) == "0");
  CHECK(stringify(Value::number(9007199254740992.0)) == "9007199254740992");
  CHECK(stringify(Value::number(0.1)) == "0.1");
  CHECK(stringify(Value::number(1.5e-7)) == "1.5e-07");
  CHECK(stringify(Value::number(1e300)) == "1e+300");
  CHECK(stringify(Value::number(1e-12)) == "1e-12");
  CHECK_THROWS(stringify(Value::number(NAN)), "NaN or Infinity");
  CHECK_THROWS(stringify(Value::number(INFINITY)), "NaN or Infinity");
  // every double reads back bit-identically
  const double xs[] = {0.1, 1.0 / 3, 2.0 / 3, 1e-310, 5e-324, 1.7976931348623157e308, -2.5e-5,
                       123456.789, 1e21, 9007199254740993.0, 3.141592653589793, 0.30000000000000004};
  for (double x : xs) {
    double y = P(stringify(Value::number(x))).num;
    CHECK_MSG(std::memcmp(&x, &y, sizeof x) == 0, "%.17g -> %s -> %.17g", x, stringify(Value::number(x)).c_str(), y);
  }
}

TEST(stringify_strings) {
  CHECK(stringify(Value::string("a\"b\\c/d")) == R"("a\"b\\c/d")");
  CHECK(stringify(Value::string("\b\f\n\r\t")) == R"("\b\f\n\r\t")");
  CHECK(stringify(Value::string(std::string("\x01\x1f\x7f\0", 4))) == "\"\\u0001\\u001F\x7f\\u0000\"");
  CHECK(stringify(Value::string("\xC3\xA9\xF0\x9F\x98\x80")) == "\"\xC3\xA9\xF0\x9F\x98\x80\"");
  CHECK_THROWS(stringify(Value::string("bad \xFF")), "not valid UTF-8 (byte 0xFF)");
  Value o = Value::object();
  o.set("\xC0", Value());
  CHECK_THROWS(stringify(o), "not valid UTF-8");
}

TEST(stringify_pretty) {
  Value v = P(R"({"a":[1,2],"b":{"c":"d"},"e":[],"f":{}})");
  CHECK(stringify(v, 2) == "{\n  \"a\": [\n    1,\n    2\n  ],\n  \"b\": {\n    \"c\": \"d\"\n  },\n"
                           "  \"e\": [],\n  \"f\": {}\n}");
  CHECK(stringify(v, 0) == "{\n\"a\": [\n1,\n2\n],\n\"b\": {\n\"c\": \"d\"\n},\n\"e\": [],\n\"f\": {}\n}");
  CHECK(stringify(v) == R"({"a":[1,2],"b":{"c":"d"},"e":[],"f":{}})");
}

TEST(stringify_round_trip) {
  const char* doc = R"({"architectures":["ElectraForPreTraining"],"hidden_size":256,"layer_norm_eps":1e-12,)"
                    R"("hidden_dropout_prob":0.1,"name":"caf\u00e9 \"q\" \\ \n \u0001 \ud83d\ude00",)"
                    R"("nested":[[],[{}],[null,true,false,-0,-1.5e-07]],"vocab_size":30522})";
  Value v = P(doc);
  std::string compact = stringify(v), pretty = stringify(v, 4);
  CHECK(stringify(P(compact)) == compact);
  CHECK(stringify(P(pretty)) == compact);
  CHECK(stringify(P(pretty), 4) == pretty);
  CHECK(P(compact).find("name")->str == "caf\xC3\xA9 \"q\" \\ \n \x01 \xF0\x9F\x98\x80");
}

TEST_MAIN()

// config_json.cpp: ElectraConfig <-> config.json in Hugging Face's format.
#include "engine/common.h"
#include "engine/config.h"
#include "engine/json.h"

namespace electra {

ElectraConfig config_from_json(const json::Value& v, const std::string& what) {
  if (v.kind != json::Value::Object) throw Error(what + ": expected a JSON object");
  ElectraConfig c;
  auto i = [&](const char* k, int& out) { out = (int)v.get_int_or(k, what, out); };
  i("vocab_size", c.vocab_size);
  i("embedding_size", c.embedding_size);
  i("hidden_size", c.hidden_size);
  i("num_hidden_layers", c.num_hidden_layers);
  i("num_attention_heads", c.num_attention_heads);
  i("intermediate_size", c.intermediate_size);
  i("max_position_embeddings", c.max_position_embeddings);
  i("type_vocab_size", c.type_vocab_size);
  i("pad_token_id", c.pad_token_id);
  c.hidden_act = v.get_string_or("hidden_act", what, c.hidden_act);
  c.hidden_dropout_prob = v.get_number_or("hidden_dropout_prob", what, c.hidden_dropout_prob);
  c.attention_probs_dropout_prob =
      v.get_number_or("attention_probs_dropout_prob", what, c.attention_probs_dropout_prob);
  c.layer_norm_eps = v.get_number_or("layer_norm_eps", what, c.layer_norm_eps);
  const std::string pet = v.get_string_or("position_embedding_type", what, "absolute");
  if (pet != "absolute")
    throw Error(what + ": position_embedding_type \"" + pet + "\" is not supported (only \"absolute\")");
  const std::string mt = v.get_string_or("model_type", what, "electra");
  if (mt != "electra") throw Error(what + ": model_type is \"" + mt + "\", not \"electra\"");
  c.validate(what);
  return c;
}

json::Value config_to_json(const ElectraConfig& c, const std::string& architecture) {
  using json::Value;
  Value o = Value::object();
  o.set("architectures", Value::array().push(Value::string(architecture)));
  o.set("attention_probs_dropout_prob", Value::number(c.attention_probs_dropout_prob));
  o.set("classifier_dropout", Value::null());
  o.set("embedding_size", Value::number(c.embedding_size));
  o.set("hidden_act", Value::string(c.hidden_act));
  o.set("hidden_dropout_prob", Value::number(c.hidden_dropout_prob));
  o.set("hidden_size", Value::number(c.hidden_size));
  o.set("initializer_range", Value::number(0.02));
  o.set("intermediate_size", Value::number(c.intermediate_size));
  o.set("layer_norm_eps", Value::number(c.layer_norm_eps));
  o.set("max_position_embeddings", Value::number(c.max_position_embeddings));
  o.set("model_type", Value::string("electra"));
  o.set("num_attention_heads", Value::number(c.num_attention_heads));
  o.set("num_hidden_layers", Value::number(c.num_hidden_layers));
  o.set("pad_token_id", Value::number(c.pad_token_id));
  o.set("position_embedding_type", Value::string("absolute"));
  o.set("summary_activation", Value::string("gelu"));
  o.set("summary_last_dropout", Value::number(0.1));
  o.set("summary_type", Value::string("first"));
  o.set("summary_use_proj", Value::boolean(true));
  o.set("torch_dtype", Value::string("float32"));
  o.set("transformers_version", Value::string("4.46.0"));
  o.set("type_vocab_size", Value::number(c.type_vocab_size));
  o.set("use_cache", Value::boolean(true));
  o.set("vocab_size", Value::number(c.vocab_size));
  return o;
}

}  // namespace electra

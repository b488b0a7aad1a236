// config.h: model configuration with Hugging Face ElectraConfig's field names and meanings.
// Parsing and writing config.json live in config.cpp; this header is plain data.
#pragma once
#include <cstdint>
#include <string>

namespace electra {

struct ElectraConfig {
  int vocab_size = 30522;
  int embedding_size = 128;           // E
  int hidden_size = 256;              // C
  int num_hidden_layers = 12;         // L
  int num_attention_heads = 4;        // NH
  int intermediate_size = 1024;       // F
  std::string hidden_act = "gelu";    // exact erf GELU (the only one supported)
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;
  int max_position_embeddings = 512;  // P
  int type_vocab_size = 2;            // TT
  double layer_norm_eps = 1e-12;
  int pad_token_id = 0;

  // Throws electra::Error naming `what` when sizes are impossible (e.g. heads not dividing hidden).
  void validate(const std::string& what) const;
};

}  // namespace electra

namespace electra {
namespace json { struct Value; }
// Reads ElectraConfig fields from a parsed config.json (missing fields take Hugging Face's
// ElectraConfig defaults; wrong types, unsupported settings and impossible sizes throw naming `what`).
ElectraConfig config_from_json(const json::Value& v, const std::string& what);
// Writes a config.json object as Hugging Face's ElectraConfig.to_dict() does, with `architectures`.
json::Value config_to_json(const ElectraConfig& c, const std::string& architecture);
}  // namespace electra

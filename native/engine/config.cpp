// config.cpp: validation of ElectraConfig (JSON reading and writing is in config_json.cpp).
#include "engine/config.h"

#include "engine/common.h"

namespace electra {

void ElectraConfig::validate(const std::string& what) const {
  auto bad = [&](const std::string& m) { throw Error(what + ": " + m); };
  auto pos = [&](int v, const char* name) {
    if (v <= 0) bad(std::string(name) + " must be positive (got " + std::to_string(v) + ")");
  };
  pos(vocab_size, "vocab_size");
  pos(embedding_size, "embedding_size");
  pos(hidden_size, "hidden_size");
  pos(num_hidden_layers, "num_hidden_layers");
  pos(num_attention_heads, "num_attention_heads");
  pos(intermediate_size, "intermediate_size");
  pos(max_position_embeddings, "max_position_embeddings");
  pos(type_vocab_size, "type_vocab_size");
  if (hidden_size % num_attention_heads != 0)
    bad("num_attention_heads (" + std::to_string(num_attention_heads) + ") must divide hidden_size (" +
        std::to_string(hidden_size) + ")");
  if (hidden_act != "gelu")
    bad("hidden_act \"" + hidden_act + "\" is not supported (only \"gelu\", the exact erf form)");
  if (!(hidden_dropout_prob >= 0 && hidden_dropout_prob < 1)) bad("hidden_dropout_prob must be in [0, 1)");
  if (!(attention_probs_dropout_prob >= 0 && attention_probs_dropout_prob < 1))
    bad("attention_probs_dropout_prob must be in [0, 1)");
  if (!(layer_norm_eps > 0)) bad("layer_norm_eps must be positive");
  if (pad_token_id < 0 || pad_token_id >= vocab_size) bad("pad_token_id is outside the vocabulary");
}

}  // namespace electra

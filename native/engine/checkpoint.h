// checkpoint.h: model directories in Hugging Face's layout: config.json + model.safetensors, with
// Hugging Face's tensor names. Saves and loads any model of the engine through its parameter table
// and a name map, so a pre-training model splits into discriminator/ and generator/ directories.
// Not here: vocab.txt, tokenizer files and training state (the caller writes those).
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "engine/config.h"
#include "engine/params.h"

namespace electra {

// Maps an engine tensor name to its name in a model directory; nullopt = not part of that directory.
using NameMap = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> identity_name(const std::string& name);
// The pre-training model's two halves: the discriminator (ElectraForPreTraining) holds the shared
// embeddings and every tensor not prefixed "generator."; the generator (ElectraForMaskedLM) holds
// the shared embeddings and the "generator." tensors with that prefix removed.
std::optional<std::string> discriminator_name(const std::string& name);
std::optional<std::string> generator_name(const std::string& name);

// Writes dir/config.json and dir/model.safetensors (fp32, atomically; creates dir).
void save_model_dir(const std::string& dir, const ElectraConfig& cfg, const std::string& architecture,
                    const ParamTable& table, const float* params, const NameMap& map = identity_name,
                    const std::vector<std::pair<std::string, std::string>>& extra_config = {});

// Reads dir/config.json (clear errors naming the file).
ElectraConfig read_model_config(const std::string& dir);

struct LoadReport {
  std::vector<std::string> missing;     // engine tensors the file lacks
  std::vector<std::string> unexpected;  // file tensors the engine does not use
  std::vector<std::string> loaded;
};
// Loads every mapped tensor of `table` from dir/model.safetensors into params (converted to F,
// shapes checked). Tolerates Hugging Face's buffers (position_ids, token_type_ids) and the tied
// generator_lm_head.weight, and files saved without the "electra." base-model prefix.
template <typename F>
LoadReport load_model_dir(const std::string& dir, const ParamTable& table, F* params, const NameMap& map = identity_name);

}  // namespace electra

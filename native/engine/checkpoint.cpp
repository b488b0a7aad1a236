// checkpoint.cpp: Hugging Face model directories (config.json + model.safetensors).
#include "engine/checkpoint.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <set>

#include "engine/common.h"
#include "engine/fileio.h"
#include "engine/json.h"
#include "engine/safetensors.h"

namespace electra {

static const std::string kGen = "generator.";

std::optional<std::string> identity_name(const std::string& name) { return name; }

std::optional<std::string> discriminator_name(const std::string& name) {
  if (name.rfind(kGen, 0) == 0) return std::nullopt;
  return name;
}

std::optional<std::string> generator_name(const std::string& name) {
  if (name.rfind(kGen, 0) == 0) return name.substr(kGen.size());
  if (name.rfind("electra.embeddings.", 0) == 0) return name;  // the shared block
  return std::nullopt;
}

static void make_dirs(const std::string& dir) {
  std::string cur;
  for (size_t i = 0; i <= dir.size(); i++) {
    if (i == dir.size() || dir[i] == '/') {
      if (!cur.empty() && ::mkdir(cur.c_str(), 0777) != 0 && errno != EEXIST)
        throw Error(cur + ": cannot create directory: " + std::strerror(errno));
    }
    if (i < dir.size()) cur += dir[i];
  }
}

void save_model_dir(const std::string& dir, const ElectraConfig& cfg, const std::string& architecture,
                    const ParamTable& table, const float* params, const NameMap& map,
                    const std::vector<std::pair<std::string, std::string>>& extra_config) {
  make_dirs(dir);
  std::vector<TensorOut> out;
  for (const auto& e : table.entries()) {
    auto n = map(e.name);
    if (!n) continue;
    out.push_back({*n, DType::F32, e.shape, params + e.offset});
  }
  save_safetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
  json::Value c = config_to_json(cfg, architecture);
  for (const auto& kv : extra_config) c.set(kv.first, json::parse(kv.second, "extra config " + kv.first));
  write_file_atomic(dir + "/config.json", json::stringify(c, 2) + "\n");
}

ElectraConfig read_model_config(const std::string& dir) {
  const std::string path = dir + "/config.json";
  struct stat sb;
  if (::stat(dir.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode))
    throw Error(dir + ": not a model directory (expected a directory with config.json and model.safetensors)");
  std::string text = read_file(path);
  return config_from_json(json::parse(text, path), path);
}

static bool ignorable(const std::string& name) {
  auto ends = [&](const char* s) {
    size_t n = std::strlen(s);
    return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
  };
  return ends("embeddings.position_ids") || ends("embeddings.token_type_ids") || name == "generator_lm_head.weight";
}

template <typename F>
LoadReport load_model_dir(const std::string& dir, const ParamTable& table, F* params, const NameMap& map) {
  const std::string path = dir + "/model.safetensors";
  SafeTensors st = SafeTensors::load(path);
  LoadReport rep;
  std::set<std::string> used;
  std::vector<double> buf;
  for (const auto& e : table.entries()) {
    auto n = map(e.name);
    if (!n) continue;
    std::string file_name = *n;
    if (!st.find(file_name) && file_name.rfind("electra.", 0) == 0 && st.find(file_name.substr(8)))
      file_name = file_name.substr(8);  // saved from a bare ElectraModel
    if (!st.find(file_name)) {
      rep.missing.push_back(*n);
      continue;
    }
    buf.resize(e.size);
    st.read_f64(file_name, e.shape, buf.data());
    for (size_t i = 0; i < e.size; i++) params[e.offset + i] = (F)buf[i];
    used.insert(file_name);
    rep.loaded.push_back(*n);
  }
  for (const auto& t : st.tensors())
    if (!used.count(t.name) && !ignorable(t.name)) rep.unexpected.push_back(t.name);
  return rep;
}

template LoadReport load_model_dir<float>(const std::string&, const ParamTable&, float*, const NameMap&);
template LoadReport load_model_dir<double>(const std::string&, const ParamTable&, double*, const NameMap&);

}  // namespace electra

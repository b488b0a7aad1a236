// test_checkpoint.cpp: Hugging Face model directories: save -> load gives bit-identical logits; the
// pre-training model splits into discriminator/ and generator/ with Hugging Face's names; damaged
// or mismatched files give clear errors.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <string>

#include "check.h"
#include "engine/checkpoint.h"
#include "engine/classifier.h"
#include "engine/common.h"
#include "engine/fileio.h"
#include "engine/json.h"
#include "engine/pretrain.h"
#include "engine/safetensors.h"

using namespace electra;

static std::string tmpdir() {
  char tmpl[] = "/tmp/electra-ckpt-XXXXXX";
  return std::string(mkdtemp(tmpl));
}

static ElectraConfig tiny(int hidden = 16) {
  ElectraConfig c;
  c.vocab_size = 50, c.embedding_size = 8, c.hidden_size = hidden, c.num_hidden_layers = 2;
  c.num_attention_heads = 2, c.intermediate_size = 24, c.max_position_embeddings = 20;
  return c;
}

static PretrainConfig tiny_pretrain() {
  PretrainConfig p;
  p.disc = tiny();
  p.gen = tiny(4);
  p.gen.num_attention_heads = 1, p.gen.intermediate_size = 12;
  p.special = {0, 1, 2, 3, 4};
  return p;
}

struct Ids {
  std::vector<int32_t> ids = {2, 10, 11, 12, 3, 20, 21, 3, 2, 30, 3, 0}, tt = {0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0, 0},
                       mask = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0};
  Batch batch() const { return {2, 6, ids.data(), tt.data(), mask.data()}; }
};

TEST(discriminator_save_load_is_bit_identical) {
  std::string dir = tmpdir() + "/disc";
  Discriminator<float> a(tiny());
  init_weights(a.table(), a.params().data(), 7, 0.3);
  save_model_dir(dir, tiny(), "ElectraForPreTraining", a.table(), a.params().data());
  ElectraConfig c = read_model_config(dir);
  CHECK(c.hidden_size == 16 && c.embedding_size == 8 && c.vocab_size == 50);
  Discriminator<float> b(c);
  LoadReport r = load_model_dir(dir, b.table(), b.params().data());
  CHECK(r.missing.empty() && r.unexpected.empty());
  Ids in;
  auto la = a.forward(in.batch());
  auto lb = b.forward(in.batch());
  CHECK(la.size() == 12 && std::memcmp(la.data(), lb.data(), la.size() * 4) == 0);
  // config.json is Hugging Face's: model_type, architectures
  json::Value cfg = json::parse(read_file(dir + "/config.json"), "config");
  CHECK(cfg.get_string("model_type", "c") == "electra");
  CHECK(cfg.find("architectures")->arr[0].str == "ElectraForPreTraining");
}

TEST(pretraining_model_splits_into_hf_discriminator_and_generator) {
  std::string root = tmpdir();
  Pretrainer<float> m(tiny_pretrain());
  m.init_weights(3);
  save_model_dir(root + "/discriminator", m.config().disc, "ElectraForPreTraining", m.table(), m.params().data(),
                 discriminator_name);
  save_model_dir(root + "/generator", m.config().gen, "ElectraForMaskedLM", m.table(), m.params().data(),
                 generator_name);
  SafeTensors d = SafeTensors::load(root + "/discriminator/model.safetensors");
  SafeTensors g = SafeTensors::load(root + "/generator/model.safetensors");
  std::set<std::string> dn, gn;
  for (auto& t : d.tensors()) dn.insert(t.name);
  for (auto& t : g.tensors()) gn.insert(t.name);
  // ElectraForPreTraining's state dict (no buffers), 2 layers
  CHECK(dn.count("electra.embeddings.word_embeddings.weight") && dn.count("electra.embeddings_project.weight"));
  CHECK(dn.count("electra.encoder.layer.1.attention.self.query.weight"));
  CHECK(dn.count("discriminator_predictions.dense_prediction.bias"));
  CHECK(dn.size() == 5 + 2 + 2 * 16 + 4);
  // ElectraForMaskedLM: shared embeddings + own projection, layers, head; lm_head weight tied (absent)
  CHECK(gn.count("electra.embeddings.word_embeddings.weight") && gn.count("electra.embeddings_project.weight"));
  CHECK(gn.count("generator_predictions.LayerNorm.weight") && gn.count("generator_lm_head.bias"));
  CHECK(!gn.count("generator_lm_head.weight"));
  CHECK(gn.size() == 5 + 2 + 2 * 16 + 5);
  for (auto& n : gn) CHECK_MSG(n.rfind("generator.", 0) != 0, "generator file has a prefixed name %s", n.c_str());
  // shapes are Hugging Face's [out, in]
  CHECK(g.find("electra.embeddings_project.weight") && (g.find("electra.embeddings_project.weight")->shape == std::vector<int64_t>{4, 8}));
  CHECK((d.find("electra.encoder.layer.0.intermediate.dense.weight")->shape == std::vector<int64_t>{24, 16}));
  // and they load back into a fresh pre-training model, giving identical weights
  Pretrainer<float> m2(tiny_pretrain());
  LoadReport rd = load_model_dir(root + "/discriminator", m2.table(), m2.params().data(), discriminator_name);
  LoadReport rg = load_model_dir(root + "/generator", m2.table(), m2.params().data(), generator_name);
  CHECK(rd.missing.empty() && rd.unexpected.empty() && rg.missing.empty() && rg.unexpected.empty());
  CHECK(m.params() == m2.params());
}

TEST(hf_quirks_are_tolerated) {
  // position_ids buffer, a tied generator_lm_head.weight, names without the "electra." prefix
  std::string dir = tmpdir() + "/quirky";
  Discriminator<float> a(tiny());
  init_weights(a.table(), a.params().data(), 9, 0.3);
  std::vector<TensorOut> out;
  std::vector<int64_t> pos(20);
  for (int i = 0; i < 20; i++) pos[i] = i;
  out.push_back({"electra.embeddings.position_ids", DType::I64, {1, 20}, pos.data()});
  for (auto& e : a.table().entries()) {
    std::string n = e.name.rfind("electra.", 0) == 0 ? e.name.substr(8) : e.name;
    out.push_back({n, DType::F32, e.shape, a.params().data() + e.offset});
  }
  save_model_dir(dir, tiny(), "ElectraForPreTraining", a.table(), a.params().data());  // config.json
  save_safetensors(dir + "/model.safetensors", out, {{"format", "pt"}});
  Discriminator<float> b(tiny());
  LoadReport r = load_model_dir(dir, b.table(), b.params().data());
  CHECK(r.missing.empty() && r.unexpected.empty());
  CHECK(a.params() == b.params());
}

TEST(damage_gives_clear_errors) {
  std::string dir = tmpdir() + "/disc";
  Discriminator<float> a(tiny());
  save_model_dir(dir, tiny(), "ElectraForPreTraining", a.table(), a.params().data());
  // config says a different size than the weights
  Discriminator<float> wrong(tiny(32));
  CHECK_THROWS(load_model_dir(dir, wrong.table(), wrong.params().data()), "shape");
  // truncated weights file
  std::string bytes = read_file(dir + "/model.safetensors");
  write_file_atomic(dir + "/model.safetensors", std::string_view(bytes).substr(0, bytes.size() / 2));
  CHECK_THROWS(load_model_dir(dir, a.table(), a.params().data()), "model.safetensors");
  // missing weights file, missing directory, broken config
  std::remove((dir + "/model.safetensors").c_str());
  CHECK_THROWS(load_model_dir(dir, a.table(), a.params().data()), "model.safetensors");
  CHECK_THROWS(read_model_config(dir + "-nope"), "not a model directory");
  write_file_atomic(dir + "/config.json", "{\"hidden_size\": 10, \"num_attention_heads\": 4}");
  CHECK_THROWS(read_model_config(dir), "must divide hidden_size");
  write_file_atomic(dir + "/config.json", "{\"hidden_size\": ");
  CHECK_THROWS(read_model_config(dir), "config.json");
}

TEST_MAIN()

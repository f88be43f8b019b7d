// `tessera generate`: streams text from a checkpoint (a local folder, or the latest one a
// subnet announced), on the CPU or a GPU.
#include <cstdio>

#include "checkpoints/export.h"
#include "checkpoints/parameters.h"
#include "cli/checkpoint_use.h"
#include "cli/commands.h"
#include "core/interrupt.h"
#include "dataset/tokenizer.h"
#include "model/device.h"
#include "model/generate.h"
#include "model/parameters.h"

namespace tessera::cli {

namespace {

struct GenerateFlags {
  std::string checkpoint, chain, prompt, device = "cpu";
  std::uint32_t netuid = 0;
  model::SamplingOptions sampling;
};

// The GPT a checkpoint holds: its geometry from the tensors, the head count from the
// manifest's model description.
Result<model::GPT> model_of(const checkpoints::Checkpoint& checkpoint, const torch::Device& device) {
  TESSERA_ASSIGN_OR_RETURN(int heads, checkpoints::heads_from_description(checkpoint.manifest.model));
  const checkpoints::NamedTensors params = checkpoints::model_named_parameters(checkpoint);
  TESSERA_ASSIGN_OR_RETURN(auto g, checkpoints::gpt_geometry(params, heads));
  model::ModelConfig config;
  config.preset = checkpoint.manifest.model;
  config.vocab_size = static_cast<int>(g.vocab);
  config.context_length = static_cast<int>(g.context);
  config.n_layer = static_cast<int>(g.layers);
  config.n_head = heads;
  config.d_model = static_cast<int>(g.d_model);
  model::GPT gpt = model::make_gpt(config, 0);
  TESSERA_RETURN_IF_ERROR(model::load_parameters(gpt, checkpoints::model_parameters(checkpoint)));
  gpt->to(device);
  return gpt;
}

Status run_generate(const GlobalOptions& global, const GenerateFlags& f) {
  TESSERA_ASSIGN_OR_RETURN(torch::Device device, model::resolve_device(f.device));
  TESSERA_ASSIGN_OR_RETURN(auto checkpoint, checkpoint_for_use(global, f.checkpoint, f.netuid, f.chain));
  TESSERA_ASSIGN_OR_RETURN(model::GPT gpt, model_of(checkpoint, device));
  const dataset::ByteTokenizer tokenizer;
  // An empty prompt starts from a newline, the start of a line in the byte corpus.
  const std::string prompt = f.prompt.empty() ? std::string("\n") : f.prompt;
  std::vector<std::int64_t> tokens;
  for (auto t : tokenizer.encode(prompt)) tokens.push_back(t);
  model::SamplingOptions sampling = f.sampling;
  sampling.vocab_limit = dataset::ByteTokenizer::kVocabSize;
  install_interrupt_handler();  // Ctrl-C ends the stream after the current token
  std::fwrite(f.prompt.data(), 1, f.prompt.size(), stdout);
  std::fflush(stdout);
  auto generated = model::generate(gpt, tokens, sampling, [](std::int64_t token) {
    std::fputc(static_cast<int>(token), stdout);
    std::fflush(stdout);
    return !interrupted();
  });
  std::fputc('\n', stdout);
  return generated.status();
}

}  // namespace

void add_generate_command(CLI::App& app, const GlobalOptions& global, int* exit_code) {
  auto* cmd = app.add_subcommand("generate", "Stream text from a checkpoint (a local folder, or a subnet's latest)");
  static GenerateFlags f;
  cmd->add_option("--checkpoint", f.checkpoint, "A folder `checkpoint pull` wrote, or a checkpoint store (its latest)");
  cmd->add_option("--netuid", f.netuid, "Or: pull the latest checkpoint this subnet announced, verified against the chain");
  cmd->add_option("--chain", f.chain, "Chain node address (with --netuid)");
  cmd->add_option("--prompt", f.prompt, "Text to continue (default: start a new line)");
  cmd->add_option("--max-tokens", f.sampling.max_tokens, "Tokens (bytes) to generate")->capture_default_str()->check(CLI::Range(0, 1 << 20));
  cmd->add_option("--temperature", f.sampling.temperature, "Softmax temperature; 0: greedy (argmax)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 100.0));
  cmd->add_option("--top-k", f.sampling.top_k, "Sample among the k most likely tokens; 0: all")->capture_default_str()->check(CLI::NonNegativeNumber);
  cmd->add_option("--seed", f.sampling.seed, "Sampling seed: the same seed gives the same text")->capture_default_str();
  cmd->add_option("--device", f.device, "cpu | cuda | cuda:N")->capture_default_str();
  cmd->callback([&global, exit_code] { *exit_code = report(run_generate(global, f)); });
}

}  // namespace tessera::cli

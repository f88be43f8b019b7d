#include <cstdio>

#include "cli/commands.h"
#include "core/interrupt.h"
#include "core/run_spec.h"
#include "model/device.h"
#include "trainer/baseline.h"

namespace tessera::cli {

void add_train_command(CLI::App& app, const GlobalOptions&, int* exit_code) {
  static std::string spec_path;
  static long steps = 0;
  static int threads = 0;
  static bool json = false;
  static std::string data_dir, device = "cpu";
  auto* cmd = app.add_subcommand("train", "Centralized baseline training of the run's model");
  cmd->add_option("--spec", spec_path, "Run spec (TOML)")->required();
  cmd->add_option("--steps", steps, "Training steps (default: the spec's train.baseline_steps)");
  cmd->add_option("--threads", threads, "CPU threads (default: all cores)");
  cmd->add_option("--data", data_dir, "Data folder (default: the spec's data.dir)");
  cmd->add_option("--device", device, "cpu | cuda | cuda:N (docs/devices.md)");
  cmd->add_flag("--json", json, "Print a final JSON object on stdout");
  cmd->callback([exit_code] {
    auto resolved = model::resolve_device(device);
    if (!resolved.ok()) {
      *exit_code = report(resolved.status());
      return;
    }
    auto spec = load_run_spec(spec_path);
    if (!spec.ok()) {
      *exit_code = report(spec.status());
      return;
    }
    install_interrupt_handler();
    trainer::BaselineOptions options;
    options.device = *resolved;
    options.steps = steps;
    options.threads = threads;
    options.data_dir = data_dir;
    const long print_every = std::max(1L, (steps > 0 ? steps : spec->train.baseline_steps) / 50);
    auto result = trainer::train_baseline(*spec, options, [&](const trainer::BaselineProgress& p) {
      if (p.step % print_every == 0 || p.step == p.total_steps || p.val_loss >= 0) {
        std::fprintf(stderr, "step %5ld/%ld  loss %.4f  lr %.2e  %7.0f tok/s  %5.1fs", p.step, p.total_steps, p.loss,
                     p.lr, p.tokens_per_second, p.elapsed_seconds);
        if (p.val_loss >= 0) std::fprintf(stderr, "  val %.4f", p.val_loss);
        std::fprintf(stderr, "\n");
      }
    });
    if (!result.ok()) {
      *exit_code = report(result.status());
      return;
    }
    const auto& r = *result;
    std::fprintf(stderr,
                 "%s\n%ld steps, %lld tokens in %.1fs (%.0f tokens/s)%s\nvalidation loss %.4f -> %.4f, train loss %.4f\n",
                 r.model.c_str(), r.steps, static_cast<long long>(r.tokens), r.wall_seconds, r.tokens_per_second,
                 r.interrupted ? " [interrupted]" : "", r.initial_val_loss, r.final_val_loss, r.final_train_loss);
    if (json) std::printf("%s\n", r.to_json().c_str());
    *exit_code = r.interrupted ? 130 : 0;
  });
}

}  // namespace tessera::cli

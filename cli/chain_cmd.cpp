// `tessera chain …`: the embedded ledger node and its tools.
//   chain yuma-check --vectors FILE [--json]   evaluate Yuma Consensus test vectors
#include <cstdio>

#include "chain-bridge/yuma_vectors.h"
#include "cli/commands.h"

namespace tessera::cli {

namespace {
Status run_yuma_check(const std::string& path, bool json, int* failed) {
  TESSERA_ASSIGN_OR_RETURN(auto results, chain::evaluate_yuma_vectors_file(path));
  std::size_t passed = 0;
  double worst = 0.0;
  for (const auto& r : results) {
    passed += r.pass ? 1 : 0;
    worst = std::max(worst, r.max_abs_error);
    if (json) {
      std::printf("%s\n", r.to_json().dump().c_str());
    } else {
      std::printf("%-4s %-60s max_abs_error %.3g\n", r.pass ? "ok" : "FAIL", r.name.c_str(), r.max_abs_error);
      for (const auto& f : r.failures) std::printf("       %s\n", f.c_str());
    }
  }
  const nlohmann::json summary = {{"summary", true},   {"vectors", results.size()}, {"passed", passed},
                                  {"failed", results.size() - passed}, {"max_abs_error", worst}};
  if (json) {
    std::printf("%s\n", summary.dump().c_str());
  } else {
    std::printf("%zu of %zu vectors pass\n", passed, results.size());
  }
  *failed = static_cast<int>(results.size() - passed);
  return Status::Ok();
}
}  // namespace

void add_chain_commands(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* chain = app.add_subcommand("chain", "The embedded ledger node and consensus tools");
  chain->require_subcommand(1);

  auto* check = chain->add_subcommand("yuma-check", "Evaluate Yuma Consensus test vectors (../shared/yuma format)");
  static std::string vectors;
  static bool json = false;
  check->add_option("--vectors", vectors, "Vectors file (format yuma-epoch-vectors/1)")->required();
  check->add_flag("--json", json, "One JSON object per vector, then a summary object");
  check->callback([exit_code] {
    int failed = 0;
    *exit_code = report(run_yuma_check(vectors, json, &failed));
    if (*exit_code == 0 && failed > 0) *exit_code = 1;
  });
}

}  // namespace tessera::cli

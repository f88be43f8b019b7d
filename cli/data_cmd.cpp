#include <unistd.h>

#include <cstdio>

#include "cli/commands.h"
#include "dataset/corpus.h"

namespace tessera::cli {

void add_data_commands(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* data = app.add_subcommand("data", "Prepare token shards from text");
  data->require_subcommand(1);
  static std::vector<std::string> inputs;
  static std::string out;
  static double val_fraction = 0.05;
  auto* prepare = data->add_subcommand("prepare", "Tokenize text files/folders into train and validation shards");
  prepare->add_option("--input", inputs, "Text files or folders (repeatable)")->required();
  prepare->add_option("--out", out, "Output folder")->required();
  prepare->add_option("--val-fraction", val_fraction, "Fraction of each file kept for validation (0..1)");
  prepare->callback([exit_code] {
    dataset::PrepareOptions options;
    for (const auto& i : inputs) options.inputs.emplace_back(i);
    options.out_dir = out;
    options.val_fraction = val_fraction;
    auto report_or = dataset::prepare_corpus(options, [](std::size_t done, std::size_t total) {
      if (::isatty(STDERR_FILENO) && total > 0 && (done % 16 == 0 || done == total)) {  // terminals only
        std::fprintf(stderr, "\rreading files %zu/%zu", done, total);
        if (done == total) std::fprintf(stderr, "\n");
      }
    });
    if (!report_or.ok()) {
      *exit_code = report(report_or.status());
      return;
    }
    const auto& r = *report_or;
    std::printf("prepared %s: %zu files (%zu skipped), %llu train tokens, %llu validation tokens, %zu shards\n",
                out.c_str(), r.files_used, r.files_skipped, static_cast<unsigned long long>(r.train_tokens),
                static_cast<unsigned long long>(r.val_tokens), r.shards.size());
    *exit_code = 0;
  });
}

}  // namespace tessera::cli

// End-to-end checks of the real `tessera` executable, started as a user would.
#include <gtest/gtest.h>

#include <fstream>
#include <sys/stat.h>

#include <cmath>
#include <csignal>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace tessera {
namespace {

std::string tessera_cmd(const testing::TempDir& home, const std::string& args) {
  return std::string(TESSERA_BINARY) + " --home " + home.path().string() + " " + args;
}

TEST(Cli, WalletCreateThenShow) {
  testing::TempDir home;
  auto created = testing::run_command(tessera_cmd(home, "wallet create --name miner1"));
  ASSERT_EQ(created.exit_code, 0) << created.output;
  EXPECT_NE(created.output.find("hotkey"), std::string::npos);
  struct stat st {};
  ASSERT_EQ(::stat((home / "wallets/miner1/hotkey").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto shown = testing::run_command(tessera_cmd(home, "wallet show --name miner1"));
  ASSERT_EQ(shown.exit_code, 0) << shown.output;
  // The hotkey line printed at creation is the one shown later.
  auto line = created.output.substr(created.output.find("hotkey"));
  line = line.substr(0, line.find('\n'));
  EXPECT_NE(shown.output.find(line), std::string::npos);
}

TEST(Cli, WalletErrorsAreClearAndNonZero) {
  testing::TempDir home;
  auto missing = testing::run_command(tessera_cmd(home, "wallet show --name ghost"));
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.output.find("error: no wallet 'ghost'"), std::string::npos) << missing.output;
  ASSERT_EQ(testing::run_command(tessera_cmd(home, "wallet create --name w")).exit_code, 0);
  ::chmod((home / "wallets/w/coldkey").c_str(), 0640);
  auto unsafe = testing::run_command(tessera_cmd(home, "wallet show --name w"));
  EXPECT_EQ(unsafe.exit_code, 1);
  EXPECT_NE(unsafe.output.find("mode 0640"), std::string::npos) << unsafe.output;
}

TEST(Cli, DataPrepareThenTrainPrintsJson) {
  testing::TempDir home;
  testing::write_text(home / "corpus.txt", testing::synthetic_text(40000, 9));
  auto prep = testing::run_command(tessera_cmd(home, "data prepare --input " + (home / "corpus.txt").string() +
                                                         " --out " + (home / "data").string()));
  ASSERT_EQ(prep.exit_code, 0) << prep.output;
  testing::write_text(home / "spec.toml", "[model]\npreset = \"nano\"\n[train]\nseq_len = 32\nbatch_size = 4\n"
                                          "eval_batches = 2\n[data]\ndir = \"" + (home / "data").string() + "\"\n");
  auto train = testing::run_command(tessera_cmd(home, "train --spec " + (home / "spec.toml").string() +
                                                          " --steps 5 --threads 1 --json 2>/dev/null"));
  ASSERT_EQ(train.exit_code, 0) << train.output;
  auto json = nlohmann::json::parse(train.output.substr(train.output.find('{')));
  EXPECT_EQ(json["steps"], 5);
  for (const char* key : {"final_train_loss", "final_val_loss", "tokens_per_second"}) {
    EXPECT_TRUE(json.contains(key)) << key;
  }
}

TEST(Cli, BadSpecNamesKeyAndExitsNonZero) {
  testing::TempDir home;
  testing::write_text(home / "bad.toml", "[train]\ninner_steps = 0\n");
  auto r = testing::run_command(tessera_cmd(home, "train --spec " + (home / "bad.toml").string()));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.output.find("train.inner_steps = 0"), std::string::npos) << r.output;
}

// A synthetic corpus prepared into `data` (the short sim and demo runs below): topical,
// so that a miner's own pages differ from held-out ones as documents do and the
// validators' own-data test measures something (testing::topical_text).
void prepare_corpus(const testing::TempDir& home, const testing::TempDir& corpus, const std::filesystem::path& data) {
  testing::write_text(corpus / "text.txt", testing::topical_text(400000, 7));
  auto r = testing::run_command(tessera_cmd(home, "data prepare --input " + (corpus / "text.txt").string() + " --out " +
                                                      data.string()));
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// `tessera sim` on nano with the given miners, adversaries and windows, its JSON parsed
// into `*out` (fatal failures on a bad exit or no JSON).
void run_sim(const std::string& args, nlohmann::json* out) {
  testing::TempDir home, corpus;
  const auto data = corpus / "data";
  prepare_corpus(home, corpus, data);
  if (::testing::Test::HasFatalFailure()) return;
  auto r = testing::run_command(tessera_cmd(home, "sim --spec " + std::string(TESSERA_SOURCE_DIR) +
                                                      "/examples/nano.toml --data " + data.string() + " " + args +
                                                      " 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto brace = r.output.find('{');
  ASSERT_NE(brace, std::string::npos) << r.output;
  *out = nlohmann::json::parse(r.output.substr(brace));
}

// The sim's honest acceptance rate agrees with the outcomes it counted per class.
TEST(Cli, SimReportsTheHonestAcceptanceRateItCounted) {
  nlohmann::json json;
  run_sim("--miners 6 --adversaries freerider:2 --windows 6", &json);
  if (HasFatalFailure()) return;
  // The rate is the honest class's scored share of its judged submissions, counted apart
  // from the per-class outcome table; the two must agree.
  int judged = 0, scored = 0;
  for (const auto& [outcome, n] : json["classes"]["honest"]["outcomes"].items()) {
    judged += n.get<int>();
    if (outcome == "scored") scored = n.get<int>();
  }
  ASSERT_GT(judged, 0) << json.dump();
  EXPECT_NEAR(json["honest_acceptance_rate"].get<double>(), static_cast<double>(scored) / judged, 1e-12);
  const auto late = json["honest_acceptance_rate_after_window_5"];
  ASSERT_TRUE(late.is_number()) << json.dump();
  EXPECT_GE(late.get<double>(), 0.0);
  EXPECT_LE(late.get<double>(), 1.0);
}

// Two runs of the same sim give the same figures, with the miners on two threads: the
// noise kinds draw from generators of their own, so no thread's draws depend on another
// thread's timing. Only the wall-clock fields may differ.
TEST(Cli, SimRepeatsItselfOnTwoThreads) {
  const std::string args = "--miners 8 --adversaries noise:4,median-sybil:2 --windows 3 --threads 2";
  nlohmann::json first, second;
  run_sim(args, &first);
  if (HasFatalFailure()) return;
  run_sim(args, &second);
  if (HasFatalFailure()) return;
  const auto without_clock = [](nlohmann::json j) {
    j.erase("wall_seconds");
    for (auto& w : j["per_window"]) w.erase("seconds");
    return j;
  };
  ASSERT_TRUE(first["per_window"].is_array()) << first.dump();
  EXPECT_EQ(without_clock(first), without_clock(second)) << nlohmann::json::diff(first, second).dump();
}

// Kinds that act differently by uid (replayer, poison) report each variant apart: the
// variants add up to their class, and a replayer that adds one inner step is charged
// 1/H of a window's compute per submission (nano: H = 4), not a whole window. Each class
// also reports how evenly its miners were paid.
TEST(Cli, SimReportsEachVariantOfAKindAndAddsThemUp) {
  nlohmann::json json;
  run_sim("--miners 12 --adversaries replayer:8 --windows 8", &json);
  if (HasFatalFailure()) return;
  const auto& replayer = json["classes"]["replayer"];
  ASSERT_TRUE(replayer["variants"].is_object()) << replayer.dump();
  int miners = 0;
  double share = 0, compute = 0;
  for (const auto& [name, v] : replayer["variants"].items()) {
    miners += v["miners"].get<int>();
    share += v["emission_share"].get<double>();
    compute += v["compute"].get<double>();
  }
  EXPECT_EQ(miners, 8);
  EXPECT_NEAR(share, replayer["emission_share"].get<double>(), 1e-12);
  EXPECT_NEAR(compute, replayer["compute"].get<double>(), 1e-12);
  // Eight consecutive uids hold two of each of the one-step and as-is variants and four
  // of the 0.3×-window one. The first window has no public update to replay: nothing is
  // sent or spent.
  const auto& variants = replayer["variants"];
  ASSERT_TRUE(variants.contains("plus-one-step") && variants.contains("as-is")) << variants.dump();
  EXPECT_EQ(variants["plus-one-step"]["miners"].get<int>(), 2);
  EXPECT_NEAR(variants["plus-one-step"]["compute"].get<double>(), 2 * 7 * 0.25, 1e-12);
  EXPECT_EQ(variants["as-is"]["compute"].get<double>(), 0.0);
  EXPECT_NEAR(variants["plus-0.3x-window"]["compute"].get<double>(), 4 * 7.0, 1e-12);
  // The spread of the honest miners' pay, as percentiles over the class mean (the first
  // weights reach an epoch after window 6 with nano's tempo).
  const auto& spread = json["classes"]["honest"]["earned_vs_class_mean"];
  ASSERT_TRUE(spread.is_object()) << json["classes"]["honest"].dump();
  EXPECT_LE(spread["p10"].get<double>(), spread["p50"].get<double>());
  EXPECT_LE(spread["p50"].get<double>(), spread["p90"].get<double>());
  EXPECT_GE(spread["p90"].get<double>(), 1.0);
}

// The demo's summary reports the honest acceptance rate: validator-0's scored share of
// the miners' submissions, counted per miner and in total, on the terminal and in
// summary.json; the two must agree. A short demo: nano, 2 miners, 1 validator, 3 windows.
TEST(Cli, DemoSummaryReportsTheHonestAcceptanceRate) {
  testing::TempDir home, corpus, out;
  const auto data = corpus / "data";
  prepare_corpus(home, corpus, data);
  if (HasFatalFailure()) return;
  auto r = testing::run_command(tessera_cmd(home, "demo --spec " + std::string(TESSERA_SOURCE_DIR) +
                                                      "/examples/nano.toml --data " + data.string() +
                                                      " --miners 2 --validators 1 --windows 3 --no-baseline --out " +
                                                      out.path().string() + " 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(out / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  int scored = 0, judged = 0;
  for (const auto& m : summary["miners"]) {
    EXPECT_LE(m["scored"].get<int>(), m["judged"].get<int>()) << m.dump();
    scored += m["scored"].get<int>();
    judged += m["judged"].get<int>();
  }
  ASSERT_GT(judged, 0) << summary.dump();
  // Overlapped windows by default (whether a miner trains a window ahead of its
  // checkpoint depends on when the checkpoint comes; the e2e test forces it); the window
  // was sized to this machine.
  for (const auto& m : summary["miners"]) {
    EXPECT_LE(m["overlapped_windows"].get<int>(), m["windows"].get<int>()) << m.dump();
    EXPECT_GE(m["compute_cpu_seconds"].get<double>(), 0.0) << m.dump();
  }
  EXPECT_TRUE(summary["overlapped_windows"].get<bool>());
  EXPECT_GE(summary["miners_cpu_share_of_machine"].get<double>(), 0.0);
  EXPECT_LE(summary["miners_cpu_share_of_machine"].get<double>(), 1.0);
  // Every role's CPU time, read from /proc: the miners trained, the validators judged,
  // the monitor evaluated, and all of it fits in the cores' time (a tick of slack).
  const auto& cpu = summary["cpu_share_by_role"];
  for (const char* role : {"miners", "validators", "monitor"}) EXPECT_GT(cpu[role].get<double>(), 0.0) << cpu.dump();
  EXPECT_GE(cpu["miners"].get<double>(), summary["miners_cpu_share_of_machine"].get<double>()) << summary.dump();
  EXPECT_LE(cpu["all"].get<double>(), 1.02) << cpu.dump();
  EXPECT_NE(r.output.find("the cores' time by role: miners "), std::string::npos) << r.output;
  // The miners' wall time by what it went to: the steps' share is the mean utilization,
  // every part is a share, and together they are the whole wall time (a miner's last
  // window may end a little after the run's wall time is taken: the rest is then 0).
  const auto& wall = summary["miner_wall_time_shares"];
  ASSERT_TRUE(wall.is_object()) << summary.dump();
  double mean_utilization = 0, sum = 0;
  for (const auto& m : summary["miners"]) mean_utilization += m["compute_utilization"].get<double>() / 2;
  EXPECT_NEAR(wall["steps"].get<double>(), mean_utilization, 1e-9) << wall.dump();
  EXPECT_GT(wall["steps"].get<double>(), 0.0) << wall.dump();
  for (const char* part : {"steps", "waiting", "exchange", "rest"}) {
    EXPECT_GE(wall[part].get<double>(), 0.0) << wall.dump();
    sum += wall[part].get<double>();
  }
  EXPECT_GE(sum, 1.0 - 1e-9) << wall.dump();
  EXPECT_LE(sum, 1.1) << wall.dump();
  EXPECT_GE(wall["windows_given_up_between_submissions"].get<int>(), 0) << wall.dump();
  EXPECT_NE(r.output.find("the miners' wall time: in steps "), std::string::npos) << r.output;
  // The wording of utilization: steps over the wall time of the windows each
  // miner submitted to, per miner and over all of them (the same seconds, recomputed).
  double steps_s = 0, own_windows_s = 0;
  for (const auto& m : summary["miners"]) {
    const double own_s = m["windows"].get<double>() * summary["window_seconds"].get<double>();
    ASSERT_GT(own_s, 0.0) << m.dump();
    EXPECT_NEAR(m["compute_utilization_own_windows"].get<double>(), m["compute_seconds"].get<double>() / own_s, 1e-9);
    steps_s += m["compute_seconds"].get<double>();
    own_windows_s += own_s;
  }
  EXPECT_NEAR(summary["miner_utilization_own_windows"].get<double>(), steps_s / own_windows_s, 1e-9) << summary.dump();
  EXPECT_NE(r.output.find("over the windows each miner submitted to"), std::string::npos) << r.output;
  EXPECT_NE(summary["window_sizing"].get<std::string>().find("sized to this machine"), std::string::npos) << summary.dump();
  EXPECT_NEAR(summary["honest_acceptance_rate"].get<double>(), static_cast<double>(scored) / judged, 1e-12);
  EXPECT_NE(r.output.find("honest acceptance: validator-0 scored " + std::to_string(scored) + " of the miners' " +
                          std::to_string(judged) + " submissions"),
            std::string::npos)
      << r.output;

  EXPECT_NE(r.output.find("dashboard: http://127.0.0.1:"), std::string::npos) << r.output;

  // The demo leaves its final checkpoint for the user: `generate` streams text from it,
  // the same text for the same seed, and `checkpoint export` writes the Hugging Face files.
  const auto checkpoint = out / "checkpoint";
  ASSERT_EQ(summary["checkpoint"].get<std::string>().size(), 64u) << summary.dump();
  const std::string generate = "generate --checkpoint " + checkpoint.string() + " --prompt 'The ' --max-tokens 24 --seed 3";
  // stdout only: the text (run_command would add stderr's note on the checkpoint).
  auto g1 = testing::run_command("(" + tessera_cmd(home, generate) + " 2>/dev/null)");
  auto g2 = testing::run_command("(" + tessera_cmd(home, generate) + " 2>/dev/null)");
  ASSERT_EQ(g1.exit_code, 0) << g1.output;
  EXPECT_EQ(g1.output, g2.output);
  EXPECT_EQ(g1.output.rfind("The ", 0), 0u) << g1.output;
  EXPECT_EQ(g1.output.size(), 4u + 24u + 1u) << g1.output;  // prompt, 24 bytes, newline
  auto e = testing::run_command(tessera_cmd(home, "checkpoint export --checkpoint " + checkpoint.string() +
                                                      " --format hf --out " + (out / "export").string() + " 2>&1"));
  ASSERT_EQ(e.exit_code, 0) << e.output;
  EXPECT_TRUE(std::filesystem::exists(out / "export" / "hf" / "config.json"));
  EXPECT_TRUE(std::filesystem::exists(out / "export" / "hf" / "model.safetensors"));
}

// A sharded demo (nano in two shards, one per miner): real miner and validator
// processes; each miner signs and submits its assigned shard only, the validator accepts
// it, and the summary reports the shards per miner and per shard.
TEST(Cli, ShardedDemoTrainsEveryShardAndReportsThem) {
  testing::TempDir home, corpus, out;
  const auto data = corpus / "data";
  prepare_corpus(home, corpus, data);
  if (HasFatalFailure()) return;
  std::ifstream nano(std::string(TESSERA_SOURCE_DIR) + "/examples/nano.toml");
  std::string spec((std::istreambuf_iterator<char>(nano)), std::istreambuf_iterator<char>());
  const auto at = spec.find("[model]\n");
  ASSERT_NE(at, std::string::npos);
  spec.insert(at + 8, "shards = 2\nshards_per_miner = 1\n");
  testing::write_text(home / "nano-shards.toml", spec);
  auto r = testing::run_command(tessera_cmd(home, "demo --spec " + (home / "nano-shards.toml").string() + " --data " +
                                                      data.string() + " --miners 2 --validators 1 --windows 3 --no-baseline --out " +
                                                      out.path().string() + " 2>&1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::ifstream in(out / "summary.json");
  const auto summary = nlohmann::json::parse(in);
  std::set<int> trained;
  for (const auto& m : summary["miners"]) {
    ASSERT_EQ(m["shards"].size(), 1u) << m.dump();  // 3 windows: one shard epoch
    trained.insert(m["shards"][0].get<int>());
    EXPECT_LT(m["trained_fraction"].get<double>(), 1.0) << m.dump();
    EXPECT_GT(m["trained_fraction"].get<double>(), 0.0) << m.dump();
  }
  EXPECT_EQ(trained, (std::set<int>{0, 1})) << "two consecutive uids cover both shards";
  ASSERT_EQ(summary["shards"].size(), 2u) << summary.dump();
  int judged = 0;
  for (const auto& s : summary["shards"]) judged += s["judged"].get<int>();
  EXPECT_GT(judged, 0) << summary.dump();
  EXPECT_NE(r.output.find("mean raw score"), std::string::npos) << r.output;
}

// A short demo as a user starts it (no --home: its state goes to a temporary folder), for
// the shutdown tests below. Waits until its output matches `ready` (a regex).
struct DemoRun {
  testing::TempDir home, corpus, out;
  std::unique_ptr<testing::Process> demo;
  std::filesystem::path log = out / "demo.log";

  void start(const std::string& ready) {
    const auto data = corpus / "data";
    prepare_corpus(home, corpus, data);
    if (::testing::Test::HasFatalFailure()) return;
    demo = std::make_unique<testing::Process>(
        std::vector<std::string>{TESSERA_BINARY, "demo", "--spec", std::string(TESSERA_SOURCE_DIR) + "/examples/nano.toml",
                                 "--data", data.string(), "--miners", "2", "--validators", "1", "--windows", "50",
                                 "--no-baseline", "--out", (out / "report").string()},
        log);
    ASSERT_FALSE(testing::wait_for_match(log, ready, std::chrono::seconds(60)).empty()) << output();
  }
  std::string output() const {
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
  std::filesystem::path work() const { return std::filesystem::temp_directory_path() / ("tessera-demo-" + std::to_string(demo->pid())); }
  // Processes whose command line names the demo's state folder (its children); the
  // bracket keeps the shell running pgrep from matching itself.
  std::string survivors() const {
    return testing::run_command("pgrep -af '" + work().string() + "/hom[e]' || true").output;
  }
  int wait_exit(std::chrono::seconds limit) {
    int code = -1;
    EXPECT_TRUE(demo->wait(limit, &code)) << output();
    return code;
  }
};

// Ctrl-C during a window: every child ends, the summary of what ran is printed, and the
// temporary state is removed.
TEST(Cli, DemoCtrlCDuringAWindowStopsEveryChildAndPrintsTheSummary) {
  DemoRun run;
  run.start("(window +[0-9]+ \\| val loss)");
  if (HasFatalFailure()) return;
  run.demo->signal(SIGINT);
  EXPECT_EQ(run.wait_exit(std::chrono::seconds(60)), 0);
  const std::string out = run.output();
  EXPECT_NE(out.find("interrupted: stopping every process"), std::string::npos) << out;
  EXPECT_NE(out.find("summary: validation loss"), std::string::npos) << out;
  EXPECT_EQ(run.survivors(), "");
  EXPECT_FALSE(std::filesystem::exists(run.work())) << out;
}

// Ctrl-C while the subnet starts: the demo ends promptly and leaves no child behind.
TEST(Cli, DemoCtrlCDuringStartUpLeavesNoChild) {
  DemoRun run;
  run.start("(logs and state in)");
  if (HasFatalFailure()) return;
  run.demo->signal(SIGINT);
  EXPECT_EQ(run.wait_exit(std::chrono::seconds(45)), 0);
  EXPECT_EQ(run.survivors(), "");
}

// A child that dies stops the demo at once, with a message naming it and the end of its
// log; the other children are stopped too.
TEST(Cli, DemoStopsAtOnceWhenAChildDies) {
  DemoRun run;
  run.start("(window +[0-9]+ \\| val loss)");
  if (HasFatalFailure()) return;
  auto killed = testing::run_command("pkill -KILL -f '" + run.work().string() + "/home .*--wallet miner-[1]'");
  ASSERT_EQ(killed.exit_code, 0) << killed.output << run.survivors();
  EXPECT_NE(run.wait_exit(std::chrono::seconds(45)), 0);
  const std::string out = run.output();
  EXPECT_NE(out.find("miner-1 exited early"), std::string::npos) << out;
  EXPECT_EQ(run.survivors(), "");
}

// No orphans: when the demo itself is killed (SIGKILL, no chance to clean up), its
// children get SIGTERM from the kernel (PR_SET_PDEATHSIG) and end.
TEST(Cli, DemoKilledLeavesNoOrphans) {
  DemoRun run;
  run.start("(window +[0-9]+ \\| val loss)");
  if (HasFatalFailure()) return;
  ASSERT_NE(run.survivors(), "");
  run.demo->signal(SIGKILL);
  run.wait_exit(std::chrono::seconds(10));
  EXPECT_TRUE(testing::wait_until([&] { return run.survivors().empty(); }, std::chrono::seconds(30))) << run.survivors();
  std::error_code ec;
  std::filesystem::remove_all(run.work(), ec);
}

// An unknown command is an error naming it, with a non-zero exit.
TEST(Cli, UnknownCommandIsAnError) {
  testing::TempDir home;
  auto r = testing::run_command(tessera_cmd(home, "dashbord 2>&1"));
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("unknown command 'dashbord'"), std::string::npos) << r.output;
  // A listen address that is not one is refused by name, before anything else is tried.
  auto bad = testing::run_command(tessera_cmd(home, "dashboard --netuid 1 --listen abc --chain 127.0.0.1:1 2>&1"));
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.output.find("--listen 'abc'"), std::string::npos) << bad.output;
  // The demo checks the flags it passes on to its miners before it starts anything.
  for (const char* margin : {"0.5", "soon"}) {
    auto early = testing::run_command(tessera_cmd(home, std::string("demo --start-margin ") + margin + " 2>&1"));
    EXPECT_NE(early.exit_code, 0) << early.output;
    EXPECT_NE(early.output.find("--start-margin"), std::string::npos) << early.output;
    EXPECT_EQ(early.output.find("sizing the window"), std::string::npos) << early.output;  // nothing started
  }
}

// The pull benchmark runs end to end on a small model and every figure it prints is a
// measurement (positive, finite) whose ratios agree with its rates.
TEST(Cli, BenchPullPrintsEveryFigure) {
  testing::TempDir home;
  auto r = testing::run_command(tessera_cmd(home, "bench pull --spec " + std::string(TESSERA_SOURCE_DIR) +
                                                      "/examples/nano.toml --reps 1 --json 2>/dev/null"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto json = nlohmann::json::parse(r.output.substr(r.output.find('{')));
  EXPECT_EQ(json["transport"], "tcp");
  for (const char* key : {"checkpoint_bytes", "pull_gbps", "raw_tcp_gbps", "raw_tcp_durable_gbps", "raw_tcp_memory_gbps",
                          "durable_write_gbps", "direct_write_gbps", "blake3_gbps", "blake2b_gbps", "pull_vs_raw_tcp",
                          "pull_vs_raw_tcp_durable", "disk_bound_vs_raw_tcp"}) {
    ASSERT_TRUE(json.contains(key)) << key;
    const double v = json[key].get<double>();
    EXPECT_TRUE(std::isfinite(v) && v > 0) << key << " = " << v;
  }
  // The bytes moved are the nano model's checkpoint: its 100272 float32 parameters plus
  // the safetensors header (computed from the preset, not from the bench's output).
  const double model_bytes = 100272.0 * 4;
  EXPECT_GT(json["checkpoint_bytes"].get<double>(), model_bytes);
  EXPECT_LT(json["checkpoint_bytes"].get<double>(), model_bytes + 16384);
  // Each ratio is the quotient of the two rates it is defined by (docs/checkpoints.md).
  const auto ratio = [&](const char* a, const char* b) { return json[a].get<double>() / json[b].get<double>(); };
  EXPECT_NEAR(json["pull_vs_raw_tcp"].get<double>(), ratio("pull_gbps", "raw_tcp_gbps"), 1e-9);
  EXPECT_NEAR(json["pull_vs_raw_tcp_durable"].get<double>(), ratio("pull_gbps", "raw_tcp_durable_gbps"), 1e-9);
  EXPECT_NEAR(json["disk_bound_vs_raw_tcp"].get<double>(), ratio("direct_write_gbps", "raw_tcp_gbps"), 1e-9);
}

}  // namespace
}  // namespace tessera

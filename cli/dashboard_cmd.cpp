// `tessera dashboard`: a live web page of one subnet for its owner, miners and validators.
// It reads only public sources: the chain (metagraph, checkpoint announcements) and the
// validators' signed verdicts, fetched from their endpoints and checked against their
// registered hotkeys (verification::fetch_verdict). The page (cli/dashboard_page.h)
// polls /api/state and draws the loss chart as SVG itself: no library and
// nothing fetched from the internet.
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "chain-bridge/client.h"
#include "cli/commands.h"
#include "subnet/join.h"
#include "cli/dashboard_page.h"
#include "core/hash.h"
#include "core/interrupt.h"
#include "net/http_server.h"
#include "verification/validator.h"

namespace tessera::cli {

namespace {

using nlohmann::json;

constexpr std::size_t kWindowsKept = 64;  // windows of history the page shows
constexpr int kVerdictAttempts = 3;       // per (validator, older window): a validator may be down

// What the collector learned so far; rebuilt into JSON on each poll.
struct Observed {
  std::map<std::uint64_t, std::string> checkpoints;                       // window → hash (hex)
  std::map<std::pair<std::uint32_t, std::uint64_t>, proto::Verdict> verdicts;  // (validator uid, window)
  std::map<std::pair<std::uint32_t, std::uint64_t>, int> attempts;
  std::string aggregator;  // hex hotkey that announced the latest checkpoint
};

double tao(std::uint64_t rao) { return static_cast<double>(rao) / 1e9; }

json build_state(std::uint32_t netuid, const chain::Subnet& subnet, const Observed& seen) {
  std::map<std::string, std::uint32_t> uid_of_validator_hotkey;
  json miners = json::array(), validators = json::array();
  std::map<std::uint32_t, json> history;  // miner uid → judgements
  json windows = json::array();
  std::map<std::string, int> outcomes;
  for (const auto& n : subnet.neurons) {
    if (!n.address.empty()) uid_of_validator_hotkey[n.hotkey] = n.uid;
  }
  for (const auto& [window, hash] : seen.checkpoints) {
    json w = {{"window", window}, {"checkpoint", hash}, {"loss", nullptr}, {"scored", 0}, {"judged", 0}, {"bytes", 0}};
    // The aggregator's verdict gives the window's figures; another validator's otherwise.
    const proto::Verdict* best = nullptr;
    for (const auto& [key, v] : seen.verdicts) {
      if (key.second != window) continue;
      if (!best || to_hex(v.validator_hotkey()) == seen.aggregator) best = &v;
      for (const auto& j : v.judged()) {
        outcomes[j.outcome()] += 1;
        history[j.uid()].push_back({{"window", window}, {"validator_uid", key.first}, {"outcome", j.outcome()},
                                    {"reason", j.reason()}, {"score", j.score()}, {"payload_bytes", j.payload_bytes()}});
      }
    }
    if (best) {
      if (best->heldout_loss() > 0) w["loss"] = best->heldout_loss();
      std::uint64_t bytes = 0;
      for (const auto& j : best->judged()) bytes += j.payload_bytes();
      w["scored"] = best->accepted_size();
      w["judged"] = best->judged_size();
      w["bytes"] = bytes;
    }
    windows.push_back(w);
  }
  for (const auto& n : subnet.neurons) {
    json row = {{"uid", n.uid},
                {"hotkey", to_hex(n.hotkey)},
                {"stake_tao", tao(n.stake)},
                {"earned_tao", tao(n.total_earned)},
                {"incentive", n.incentive_u16 / 65535.0},
                {"dividends", n.dividends_u16 / 65535.0}};
    if (!n.address.empty()) {
      int served = 0;
      for (const auto& [key, v] : seen.verdicts) served += key.first == n.uid;
      row["verdicts"] = served;
      row["aggregator"] = to_hex(n.hotkey) == seen.aggregator;
      validators.push_back(row);
      continue;
    }
    json h = history.count(n.uid) ? history[n.uid] : json::array();
    int scored = 0;
    for (const auto& j : h) scored += j["outcome"] == "scored";
    row["scored"] = scored;
    row["judged"] = h.size();
    row["last_outcome"] = h.empty() ? json(nullptr) : h.back()["outcome"];
    row["history"] = h;
    miners.push_back(row);
  }
  return {{"netuid", netuid},        {"block", subnet.block},     {"last_epoch_block", subnet.last_epoch_block},
          {"windows", windows},      {"miners", miners},            {"validators", validators},
          {"outcomes", outcomes},    {"updated_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count()}};
}

// The receipt counters of validators that serve metrics (--validator-metrics URL):
// messages refused by reason and accepted by kind, summed over the validators that
// answered. A validator's metrics are not on chain, so the operator names them.
json receipt_counters(const std::vector<std::string>& urls) {
  std::map<std::string, double> refused, accepted;
  int answered = 0;
  for (const auto& url : urls) {
    const auto scheme_end = url.find("://");
    const auto path_at = url.find('/', scheme_end == std::string::npos ? 0 : scheme_end + 3);
    httplib::Client client(url.substr(0, path_at));
    client.set_connection_timeout(1, 0);
    client.set_read_timeout(2, 0);
    auto res = client.Get(path_at == std::string::npos ? "/metrics" : url.substr(path_at).c_str());
    if (!res || res->status != 200 || res->body.size() > (4u << 20)) continue;
    ++answered;
    std::istringstream lines(res->body);
    for (std::string line; std::getline(lines, line);) {
      for (auto [prefix, into] : {std::pair{std::string("tessera_validator_rejected_total{reason=\""), &refused},
                                  std::pair{std::string("tessera_validator_accepted_messages_total{kind=\""), &accepted}}) {
        if (line.rfind(prefix, 0) != 0) continue;
        const auto end = line.find('"', prefix.size());
        const auto space = line.rfind(' ');
        if (end == std::string::npos || space == std::string::npos) continue;
        try {
          (*into)[line.substr(prefix.size(), end - prefix.size())] += std::stod(line.substr(space + 1));
        } catch (const std::exception&) {
        }
      }
    }
  }
  return {{"validators_answered", answered}, {"validators_named", urls.size()}, {"refused", refused}, {"accepted", accepted}};
}

// One poll: the metagraph, new announcements, and the verdicts not fetched yet.
Status poll(chain::ChainClient& chain, std::uint32_t netuid, Observed& seen, json* state) {
  TESSERA_ASSIGN_OR_RETURN(chain::Subnet subnet, chain.subnet(netuid));
  TESSERA_ASSIGN_OR_RETURN(auto latest, chain.checkpoint(netuid, std::nullopt));
  if (latest) {
    seen.aggregator = to_hex(latest->announcer);
    const std::uint64_t from =
        seen.checkpoints.empty() ? (latest->window >= kWindowsKept ? latest->window - kWindowsKept + 1 : 0)
                                 : seen.checkpoints.rbegin()->first + 1;
    for (std::uint64_t w = from; w <= latest->window; ++w) {
      TESSERA_ASSIGN_OR_RETURN(auto info, chain.checkpoint(netuid, w));
      if (info && info->window == w) seen.checkpoints[w] = to_hex(info->hash);
    }
    while (seen.checkpoints.size() > kWindowsKept) seen.checkpoints.erase(seen.checkpoints.begin());
  }
  // A window's verdicts exist once it was judged: every announced window but the newest.
  for (const auto& n : subnet.neurons) {
    if (n.address.empty()) continue;
    for (const auto& [window, hash] : seen.checkpoints) {
      const auto key = std::make_pair(n.uid, window);
      if (latest && window >= latest->window) continue;
      // The two newest judged windows are asked every poll (a validator may still be
      // judging); older ones kVerdictAttempts times in all (it may be down).
      const bool recent = latest && window + 2 >= latest->window;
      if (seen.verdicts.count(key) || (!recent && seen.attempts[key] >= kVerdictAttempts)) continue;
      seen.attempts[key] += 1;
      auto v = verification::fetch_verdict(n, netuid, window, std::chrono::milliseconds(1500));
      if (v.ok()) seen.verdicts[key] = std::move(*v);
    }
  }
  const std::uint64_t oldest = seen.checkpoints.empty() ? 0 : seen.checkpoints.begin()->first;
  std::erase_if(seen.verdicts, [&](const auto& e) { return e.first.second < oldest; });
  std::erase_if(seen.attempts, [&](const auto& e) { return e.first.second < oldest; });
  *state = build_state(netuid, subnet, seen);
  return Status::Ok();
}

Status run_dashboard(const std::string& chain_address, std::uint32_t netuid, const std::string& listen, int poll_ms,
                     const std::vector<std::string>& validator_metrics, const std::string& aggregator) {
  std::mutex mu;
  json state = {{"netuid", netuid}, {"windows", json::array()}, {"miners", json::array()}, {"validators", json::array()}};
  std::string last_error;
  // Declared after what its handlers read, so that it stops before they go.
  TESSERA_ASSIGN_OR_RETURN(auto http, net::HttpServer::start(listen, "--listen", [&](httplib::Server& server) {
                             server.Get("/", [](const httplib::Request&, httplib::Response& res) {
                               res.set_content(kDashboardPage, "text/html; charset=utf-8");
                             });
                             server.Get("/api/state", [&](const httplib::Request&, httplib::Response& res) {
                               std::lock_guard lock(mu);
                               json out = state;
                               out["error"] = last_error.empty() ? json(nullptr) : json(last_error);
                               res.set_content(out.dump(), "application/json");
                             });
                           }));
  TESSERA_ASSIGN_OR_RETURN(auto chain,
                           chain::connect_chain(chain_address.empty() ? chain::default_chain_address() : chain_address));
  TESSERA_RETURN_IF_ERROR(subnet::designate_aggregator(*chain, netuid, aggregator));
  TESSERA_RETURN_IF_ERROR(chain->subnet(netuid).status());
  std::printf("dashboard of subnet %u on %s\n", netuid, http->url("/").c_str());
  std::fflush(stdout);
  install_interrupt_handler();
  Observed seen;
  while (!interrupted()) {
    json next;
    Status st = poll(*chain, netuid, seen, &next);
    if (st.ok() && !validator_metrics.empty()) next["receipts"] = receipt_counters(validator_metrics);
    {
      std::lock_guard lock(mu);
      if (st.ok()) state = std::move(next);
      last_error = st.ok() ? std::string() : st.message();
    }
    for (int waited = 0; waited < poll_ms && !interrupted(); waited += 50) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status::Ok();
}

}  // namespace

void add_dashboard_command(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* cmd = app.add_subcommand("dashboard", "Serve a live web page of a subnet: loss, miners, outcomes and reasons, TAO");
  static std::string chain, listen = "127.0.0.1:7900";
  static std::uint32_t netuid = 0;
  static int poll_ms = 1000;
  cmd->add_option("--chain", chain, "Chain node address (default $TESSERA_CHAIN or 127.0.0.1:7700)");
  cmd->add_option("--netuid", netuid, "Subnet id")->required();
  cmd->add_option("--listen", listen, "HOST:PORT of the page (PORT alone: 127.0.0.1; 0: any free port)")->capture_default_str();
  cmd->add_option("--poll-ms", poll_ms, "How often to read the chain and the verdicts")->capture_default_str()->check(CLI::Range(100, 600000));
  static std::vector<std::string> validator_metrics;
  cmd->add_option("--validator-metrics", validator_metrics,
                  "A validator's metrics URL (its --metrics-listen): show its receipt counters, refusals by reason (repeatable)");
  static std::string aggregator;
  cmd->add_option("--aggregator", aggregator,
                  "On subtensor: the aggregator's hotkey (SS58 or hex) the subnet's owner designated");
  cmd->callback([exit_code] {
    *exit_code = report(run_dashboard(chain, netuid, listen, poll_ms, validator_metrics, aggregator));
  });
}

}  // namespace tessera::cli

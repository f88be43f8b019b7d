// tessera_harvester: the harvesting-validator attack as a real process, for the end-to-end
// test (docs/roles.md, "Threats"). It registers a "validator" hotkey, optionally stakes
// it, serves a submission endpoint on chain like a validator, and forwards every payload
// it receives, as fast as it can, to the real validators as a submission of a sybil miner
// (its own registered uid, claiming its own pages), to every neuron miners submit to
// (subnet::receives_submissions). It never evaluates anything.
//
//   tessera_harvester --home H --chain ADDR --netuid N --wallet W --sybil S [--stake TAO]
//
// Prints "harvester ready" once it serves, then one JSON line per forwarded copy:
// {"window", "victim_uid", "to_uid", "accepted", "reason"}; and "received N" every
// second. A test tool: it lives under tests/, not in the product's binary.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "chain-bridge/client.h"
#include "core/hash.h"
#include "core/identity.h"
#include "dataset/token_dataset.h"
#include "net/submission.h"
#include "subnet/join.h"

namespace {

volatile std::sig_atomic_t stop = 0;

int fail(const std::string& what) {
  std::fprintf(stderr, "harvester: %s\n", what.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace tessera;
  std::map<std::string, std::string> args;
  for (int i = 1; i + 1 < argc; i += 2) args[argv[i]] = argv[i + 1];
  for (const char* required : {"--home", "--chain", "--netuid", "--wallet", "--sybil"}) {
    if (!args.count(required)) return fail(std::string("missing ") + required);
  }
  std::signal(SIGTERM, [](int) { stop = 1; });
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  const std::uint32_t netuid = static_cast<std::uint32_t>(std::stoul(args["--netuid"]));

  // The sybil joins like a miner (spec, data split, uid); the fake validator registers.
  subnet::JoinOptions jo;
  jo.chain_address = args["--chain"];
  jo.netuid = netuid;
  jo.home = args["--home"];
  jo.wallet = args["--sybil"];
  auto sybil = subnet::join_subnet(jo);
  if (!sybil.ok()) return fail("sybil: " + sybil.status().message());
  auto train = subnet::load_split(*sybil, "train");
  if (!train.ok()) return fail(train.status().message());
  auto wallet = load_wallet(jo.home, args["--wallet"]);
  if (!wallet.ok()) return fail(wallet.status().message());
  chain::ChainClient& chain = *sybil->chain;
  auto own_uid = chain::ensure_registered(chain, *wallet, netuid);
  if (!own_uid.ok()) return fail(own_uid.status().message());
  if (args.count("--stake")) {
    auto rao = chain::parse_tao(args["--stake"]);
    if (!rao.ok()) return fail(rao.status().message());
    if (*rao > 0) {
      auto staked = chain.add_stake(wallet->coldkey, wallet->hotkey.public_key(), netuid, *rao);
      if (!staked.ok()) return fail(staked.status().message());
    }
  }

  std::mutex mu;
  std::map<std::string, std::uint32_t> uid_by_hotkey;
  std::atomic<std::uint64_t> block{0};
  auto refresh = [&]() -> Result<chain::Subnet> {
    auto head = chain.head();
    if (head.ok()) block = head->height;
    auto s = chain.subnet(netuid);
    if (s.ok()) {
      std::lock_guard lock(mu);
      uid_by_hotkey.clear();
      for (const auto& n : s->neurons) uid_by_hotkey[n.hotkey] = n.uid;
    }
    return s;
  };
  if (auto s = refresh(); !s.ok()) return fail(s.status().message());
  auto curve = net::CurveKeys::generate();
  if (!curve.ok()) return fail(curve.status().message());
  net::ServerOptions so;
  so.netuid = netuid;
  so.schedule.blocks_per_window = static_cast<std::uint64_t>(sybil->spec.schedule.blocks_per_window);
  so.grace_blocks = static_cast<std::uint64_t>(sybil->spec.schedule.submission_grace_blocks);
  so.uid_of = [&](const std::string& hotkey) -> std::optional<std::uint32_t> {
    std::lock_guard lock(mu);
    auto it = uid_by_hotkey.find(hotkey);
    if (it == uid_by_hotkey.end()) return std::nullopt;
    return it->second;
  };
  so.current_block = [&] { return block.load(); };
  auto server = net::SubmissionServer::start(so, wallet->hotkey, *curve);
  if (!server.ok()) return fail(server.status().message());
  auto served = chain.serve(wallet->hotkey, netuid, (*server)->endpoint(), curve->public_key, "");
  if (!served.ok()) return fail(served.status().message());
  std::printf("harvester ready: uid %u, sybil uid %u, serving %s\n", *own_uid, sybil->uid, (*server)->endpoint().c_str());

  std::map<std::string, std::unique_ptr<net::SubmissionClient>> clients;
  std::uint64_t nonce = 0, received = 0;
  auto last_print = std::chrono::steady_clock::now();
  while (!stop) {
    auto subnet = refresh();
    if (std::chrono::steady_clock::now() - last_print > std::chrono::seconds(1)) {
      std::printf("received %llu\n", static_cast<unsigned long long>(received));
      last_print = std::chrono::steady_clock::now();
    }
    auto got = (*server)->pop(std::chrono::milliseconds(50));
    if (!got || !subnet.ok()) continue;
    ++received;
    const proto::SubmissionHeader& victim = got->header;
    auto pages = dataset::assign_pages(sybil->spec.seed, victim.window(), sybil->uid,
                                       static_cast<std::uint64_t>(sybil->spec.data.pages_per_window),
                                       train->num_pages(static_cast<std::uint64_t>(sybil->spec.data.page_tokens)));
    if (!pages.ok()) return fail(pages.status().message());
    for (const auto& n : subnet->neurons) {
      // The neurons whose verdicts pay: those miners submit to (staked, serving).
      const bool serves = !n.address.empty() && n.curve_public_key.size() == 32;
      if (!subnet::receives_submissions(sybil->spec, serves, n.stake) || n.uid == *own_uid ||
          n.uid == victim.uid() || n.uid == sybil->uid) {
        continue;
      }
      auto& client = clients[n.address];
      if (!client) {
        auto c = net::SubmissionClient::connect(n.address, n.curve_public_key);
        if (!c.ok()) continue;
        client = std::move(*c);
      }
      proto::SubmissionHeader h = victim;
      h.set_uid(sybil->uid);
      h.set_validator(n.hotkey);
      h.set_data_digest(*from_hex(dataset::pages_digest(*pages)));
      h.set_timestamp_ms(0);
      h.set_nonce(std::max(++nonce, static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                                   std::chrono::system_clock::now().time_since_epoch())
                                                                   .count())));
      nonce = h.nonce();
      auto reply = client->submit(h, got->payload, sybil->wallet.hotkey, std::chrono::seconds(5));
      nlohmann::json line = {{"window", victim.window()},
                             {"victim_uid", victim.uid()},
                             {"to_uid", n.uid},
                             {"accepted", reply.ok() && reply->accepted()},
                             {"reason", reply.ok() ? reply->reason() : reply.status().message()}};
      std::printf("%s\n", line.dump().c_str());
      if (!reply.ok()) clients.erase(n.address);
    }
  }
  std::printf("received %llu\n", static_cast<unsigned long long>(received));
  (*server)->stop();
  return 0;
}

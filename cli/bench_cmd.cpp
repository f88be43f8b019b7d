// `tessera bench codec`: the codec on a realistic delta — the pseudo-gradient of H real
// AdamW steps of the spec's model on its corpus — against memcpy measured in the same run.
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>

#include <thread>

#include "gradients/merge.h"
#include "checkpoints/download.h"
#include "checkpoints/service.h"
#include "cli/commands.h"
#include "core/blake3.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "core/rng.h"
#include "core/run_spec.h"
#include "dataset/token_dataset.h"
#include "gradients/apply.h"
#include "gradients/codec.h"
#include "net/submission.h"
#include "model/device.h"
#include "model/gpt.h"
#include "model/runtime.h"
#include "trainer/optim.h"

namespace tessera::cli {

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Best-of-`reps` wall time of `fn`.
template <typename Fn>
double best_seconds(int reps, Fn&& fn) {
  double best = 1e30;
  for (int i = 0; i < reps; ++i) {
    auto t0 = Clock::now();
    fn();
    best = std::min(best, since(t0));
  }
  return best;
}

Status run_codec_bench(const std::string& spec_path, const std::vector<std::string>& presets, int reps,
                       const std::string& device_name, bool json) {
  TESSERA_ASSIGN_OR_RETURN(const torch::Device device, model::resolve_device(device_name));
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(spec_path));
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  TESSERA_ASSIGN_OR_RETURN(auto train, dataset::TokenDataset::load(spec.data.dir, "train"));
  model::configure_cpu_threads(1);  // the targets are per core

  // A real pseudo-gradient: H AdamW steps from the initial model on assigned pages.
  auto gpt = model::make_gpt(config, spec.seed);
  gpt->to(device);
  std::vector<torch::Tensor> start;
  for (const auto& [name, p] : gpt->named_params()) start.push_back(p.detach().clone());
  auto optimizer = trainer::make_adamw(gpt, spec.train);
  TESSERA_ASSIGN_OR_RETURN(auto pages, dataset::assign_pages(spec.seed, 0, 0, static_cast<std::uint64_t>(spec.data.pages_per_window),
                                                            train.num_pages(static_cast<std::uint64_t>(spec.data.page_tokens))));
  std::fprintf(stderr, "training %d inner steps of %s for a realistic delta...\n", spec.train.inner_steps,
               config.describe().c_str());
  for (int step = 0; step < spec.train.inner_steps; ++step) {
    auto [x, y] = train.sample_from_pages(pages, static_cast<std::uint64_t>(spec.data.page_tokens),
                                          static_cast<std::uint64_t>(step), spec.train.batch_size, spec.train.seq_len);
    optimizer->zero_grad();
    auto loss = gpt->loss(x.to(device), y.to(device));
    loss.backward();
    optimizer->step();
  }
  std::vector<gradients::IndexedTensor> delta;
  std::vector<std::vector<std::int64_t>> shapes;
  std::int64_t numel = 0;
  {
    std::uint32_t i = 0;
    for (const auto& [name, p] : gpt->named_params()) {
      delta.push_back({i, (start[i] - p.detach()).contiguous()});
      shapes.emplace_back(p.sizes().begin(), p.sizes().end());
      numel += p.numel();
      ++i;
    }
  }
  const double dense_bytes = static_cast<double>(numel) * 4.0;
  double delta_norm2 = 0;
  for (const auto& t : delta) delta_norm2 += t.value.pow(2).sum().item<double>();

  // Baseline: memcpy of the dense delta's size, same process, one core (on a GPU: a
  // device-to-device copy). It is timed interleaved with every codec repetition (this
  // machine's speed drifts between phases) and each figure is the best over the same
  // stretch of time.
  std::vector<char> src(device.is_cpu() ? static_cast<std::size_t>(dense_bytes) : 0), dst(src.size());
  std::memset(src.data(), 1, src.size());
  const torch::Tensor device_src = device.is_cpu() ? torch::Tensor() : torch::ones({numel}, torch::TensorOptions().device(device));
  torch::Tensor device_dst = device.is_cpu() ? torch::Tensor() : torch::empty_like(device_src);
  const auto copy_once = [&] {
    if (device.is_cpu()) {
      std::memcpy(dst.data(), src.data(), src.size());
    } else {
      device_dst.copy_(device_src);
      torch::cuda::synchronize();
    }
  };
  double memcpy_all = 1e30;

  nlohmann::json results = nlohmann::json::array();
  for (const auto& name : presets) {
    TESSERA_ASSIGN_OR_RETURN(auto settings, gradients::CodecSettings::from_preset(name));
    std::string bytes;
    gradients::DecodedDelta recon;
    std::vector<torch::Tensor> params;
    for (const auto& t : start) params.push_back(t.clone());
    Status decode_status;
    double memcpy_s = 1e30, encode_s = 1e30, decode_apply_s = 1e30;
    for (int rep = 0; rep < reps && decode_status.ok(); ++rep) {
      memcpy_s = std::min(memcpy_s, best_seconds(3, copy_once));
      encode_s = std::min(encode_s, best_seconds(1, [&] {
        auto e = encode_delta(delta, settings);
        if (!e.ok()) {
          decode_status = e.status();
          return;
        }
        bytes = std::move(e->bytes);
        recon = std::move(e->reconstruction);
      }));
      gradients::UndoLog log;
      decode_apply_s = std::min(decode_apply_s, best_seconds(1, [&] {
        auto d = gradients::decode_delta(bytes, shapes, settings);
        if (!d.ok()) {
          decode_status = d.status();
          return;
        }
        auto applied = gradients::apply_delta(params, *d, 1.0f);
        if (!applied.ok()) {
          decode_status = applied.status();
          return;
        }
        log = std::move(*applied);
      }));
      if (decode_status.ok()) decode_status = gradients::undo_delta(params, log);  // outside the timed region
    }
    memcpy_all = std::min(memcpy_all, memcpy_s);
    TESSERA_RETURN_IF_ERROR(decode_status);
    double err2 = 0;
    for (std::size_t i = 0; i < delta.size(); ++i) {
      err2 += (delta[i].value - recon.tensors[i].to_dense(delta[i].value.sizes())).pow(2).sum().item<double>();
    }
    results.push_back({
        {"preset", name},
        {"encoded_bytes", bytes.size()},
        {"ratio_vs_fp32", dense_bytes / static_cast<double>(bytes.size())},
        {"encode_gbps", dense_bytes / encode_s / 1e9},
        {"decode_apply_gbps", dense_bytes / decode_apply_s / 1e9},
        {"memcpy_gbps", dense_bytes / memcpy_s / 1e9},
        {"encode_vs_memcpy", memcpy_s / encode_s},
        {"decode_apply_vs_memcpy", memcpy_s / decode_apply_s},
        {"rel_error", std::sqrt(err2 / delta_norm2)},
    });
  }
  nlohmann::json out = {
      {"bench", "codec"},
      {"model", config.describe()},
      {"delta", "pseudo-gradient of " + std::to_string(spec.train.inner_steps) + " AdamW steps from init"},
      {"dense_bytes", dense_bytes},
      {"threads", 1},
      {"device", device.str()},
      {"memcpy_gbps", dense_bytes / memcpy_all / 1e9},
      {"presets", results},
  };
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    std::printf("codec on %s (%.0f dense bytes), memcpy %.2f GB/s\n", config.describe().c_str(), dense_bytes,
                dense_bytes / memcpy_all / 1e9);
    std::printf("%-14s %10s %10s %12s %16s %10s\n", "preset", "bytes", "ratio", "encode GB/s", "decode+apply GB/s",
                "rel_error");
    for (const auto& r : results) {
      std::printf("%-14s %10zu %10.1f %12.3f %16.3f %10.3f\n", r["preset"].get<std::string>().c_str(),
                  r["encoded_bytes"].get<std::size_t>(), r["ratio_vs_fp32"].get<double>(), r["encode_gbps"].get<double>(),
                  r["decode_apply_gbps"].get<double>(), r["rel_error"].get<double>());
    }
  }
  return Status::Ok();
}
// Raw ZeroMQ request/reply round trips (DEALER → ROUTER over TCP loopback, no CURVE, no
// checks) with the same frames as a submission: the transport's own limit.
Result<double> raw_zmq_seconds(const std::string& header, const std::string& payload, int count) {
  void* ctx = zmq_ctx_new();
  void* router = zmq_socket(ctx, ZMQ_ROUTER);
  void* dealer = zmq_socket(ctx, ZMQ_DEALER);
  const int linger = 0;
  zmq_setsockopt(router, ZMQ_LINGER, &linger, sizeof linger);
  zmq_setsockopt(dealer, ZMQ_LINGER, &linger, sizeof linger);
  if (zmq_bind(router, "tcp://127.0.0.1:0") != 0) return IoError("raw zmq bind failed");
  char endpoint[256];
  std::size_t len = sizeof endpoint;
  zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, endpoint, &len);
  zmq_connect(dealer, endpoint);
  std::thread server([&] {
    for (int i = 0; i < count; ++i) {
      std::vector<std::string> frames;
      int more = 1;
      while (more) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        zmq_msg_recv(&m, router, 0);
        frames.emplace_back(static_cast<const char*>(zmq_msg_data(&m)), zmq_msg_size(&m));
        more = zmq_msg_more(&m);
        zmq_msg_close(&m);
      }
      zmq_send(router, frames[0].data(), frames[0].size(), ZMQ_SNDMORE);
      zmq_send(router, "ok", 2, 0);
    }
  });
  const auto t0 = Clock::now();
  char buf[64];
  for (int i = 0; i < count; ++i) {
    zmq_send(dealer, header.data(), header.size(), ZMQ_SNDMORE);
    zmq_send(dealer, payload.data(), payload.size(), 0);
    zmq_recv(dealer, buf, sizeof buf, 0);
  }
  const double s = since(t0);
  server.join();
  zmq_close(dealer);
  zmq_close(router);
  zmq_ctx_term(ctx);
  return s;
}

Status run_net_bench(int count, bool json) {
  TESSERA_ASSIGN_OR_RETURN(auto curve, net::CurveKeys::generate());
  const Keypair validator = Keypair::generate(), miner = Keypair::generate();
  const std::string miner_key = raw_bytes(miner.public_key());
  nlohmann::json rows = nlohmann::json::array();
  for (std::size_t size : {std::size_t{16} << 10, std::size_t{256} << 10, std::size_t{4} << 20}) {
    net::ServerOptions o;
    o.netuid = 1;
    o.max_payload_bytes = size + 1024;
    o.queue_capacity = static_cast<std::size_t>(count) + 1;
    o.max_per_hotkey_per_window = static_cast<std::uint32_t>(count) + 1;
    o.uid_of = [&](const std::string& k) -> std::optional<std::uint32_t> {
      if (k == miner_key) return 0u;
      return std::nullopt;
    };
    o.current_block = [] { return std::uint64_t{0}; };
    TESSERA_ASSIGN_OR_RETURN(auto server, net::SubmissionServer::start(o, validator, curve));
    TESSERA_ASSIGN_OR_RETURN(auto client, net::SubmissionClient::connect(server->endpoint(), curve.public_key));
    const std::string payload(size, 'x');
    std::thread consumer([&] {
      for (int i = 0; i < count; ++i) server->pop(std::chrono::seconds(30));
    });
    proto::SubmissionHeader h;
    h.set_netuid(1);
    h.set_window(0);
    h.set_uid(0);
    h.set_codec("int2-k32");
    h.set_validator(raw_bytes(validator.public_key()));
    const auto t0 = Clock::now();
    int accepted = 0;
    for (int i = 0; i < count; ++i) {
      h.set_nonce(static_cast<std::uint64_t>(i) + 1);
      auto r = client->submit(h, payload, miner);
      if (r.ok() && r->accepted()) ++accepted;
    }
    const double sub_s = since(t0);
    consumer.join();
    h.set_nonce(1);
    const std::string header = net::sign_header(h, miner);
    TESSERA_ASSIGN_OR_RETURN(double raw_s, raw_zmq_seconds(header, payload, count));
    const double mb = static_cast<double>(size) * count / 1e6;
    rows.push_back({{"payload_bytes", size},
                    {"submissions", count},
                    {"accepted", accepted},
                    {"submission_mb_per_s", mb / sub_s},
                    {"submissions_per_s", count / sub_s},
                    {"raw_zmq_mb_per_s", mb / raw_s},
                    {"raw_zmq_messages_per_s", count / raw_s},
                    {"vs_raw_zmq", raw_s / sub_s}});
    if (accepted != count) return Internal("only " + std::to_string(accepted) + " of " + std::to_string(count) + " accepted");
  }
  nlohmann::json out = {{"bench", "net"},
                        {"transport", "tcp loopback"},
                        {"pattern", "one client, request/reply per submission (CURVE + checks vs plain ZeroMQ)"},
                        {"sizes", rows}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& r : rows) {
      std::printf("%9zu B  submissions %8.1f MB/s %8.0f /s   raw zmq %8.1f MB/s   ratio %.2f\n",
                  r["payload_bytes"].get<std::size_t>(), r["submission_mb_per_s"].get<double>(),
                  r["submissions_per_s"].get<double>(), r["raw_zmq_mb_per_s"].get<double>(),
                  r["vs_raw_zmq"].get<double>());
    }
  }
  return Status::Ok();
}
// Plain TCP over loopback: one connection, the same bytes, read to the end — kept in
// memory, or written to `file` as it arrives (what `nc host port > file` does: no
// verification), and with `durable` fdatasync'd before the clock stops (`nc host port >
// file && sync file`: the guarantee a pull gives).
Result<double> raw_tcp_seconds(const std::string& bytes, const std::filesystem::path& file = {}, bool durable = false) {
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listener);
    return IoError("raw tcp: cannot listen on loopback");
  }
  std::thread server([&] {
    const int c = ::accept(listener, nullptr, nullptr);
    for (std::size_t done = 0; c >= 0 && done < bytes.size();) {
      const ssize_t n = ::send(c, bytes.data() + done, bytes.size() - done, 0);
      if (n <= 0) break;
      done += static_cast<std::size_t>(n);
    }
    if (c >= 0) ::close(c);
  });
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  const auto t0 = Clock::now();
  std::size_t got = 0;
  bool write_ok = true;
  if (::connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const int out = file.empty() ? -1 : ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    write_ok = file.empty() || out >= 0;
    std::vector<char> buf(1 << 20);
    std::string sink;
    if (out < 0) sink.reserve(bytes.size());
    for (ssize_t n; (n = ::recv(s, buf.data(), buf.size(), 0)) > 0;) {
      if (out >= 0) write_ok = write_ok && ::write(out, buf.data(), static_cast<std::size_t>(n)) == n;
      else sink.append(buf.data(), static_cast<std::size_t>(n));
      got += static_cast<std::size_t>(n);
    }
    if (out >= 0) {
      if (durable) write_ok = write_ok && ::fdatasync(out) == 0;
      ::close(out);
    }
  }
  const double sec = since(t0);
  ::close(s);
  server.join();
  ::close(listener);
  if (got != bytes.size()) return IoError("raw tcp: received " + std::to_string(got) + " bytes");
  if (!write_ok) return IoError("raw tcp: cannot write " + file.string());
  return sec;
}

// The same bytes written to a new file through the page cache and made durable (write,
// fdatasync): how fast this disk takes a plain durable copy at the time. Not a bound on
// the pull, whose O_DIRECT writes overlap its transfer.
Result<double> durable_write_seconds(const std::string& bytes, const std::filesystem::path& file) {
  const auto t0 = Clock::now();
  const int out = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) return IoError("durable write: cannot create " + file.string());
  bool ok = true;
  for (std::size_t done = 0; ok && done < bytes.size();) {
    const ssize_t n = ::write(out, bytes.data() + done, std::min<std::size_t>(bytes.size() - done, 1 << 20));
    ok = n > 0;
    if (ok) done += static_cast<std::size_t>(n);
  }
  ok = ok && ::fdatasync(out) == 0;
  ::close(out);
  const double sec = since(t0);
  std::filesystem::remove(file);
  if (!ok) return IoError("durable write: cannot write " + file.string());
  return sec;
}

// The same bytes written to a new file the way a pull writes them (DownloadBuffer: O_DIRECT
// from memory, the last partial page through the page cache, fdatasync), no network: the
// disk's own rate for the pull's write path at the time. A pull cannot finish before its
// bytes are on the disk, so raw_tcp_seconds / this is about the best pull_vs_raw_tcp the
// disk allowed in that run — measured moments apart, and the disk's speed moves, so a
// pull can come out slightly above it.
Result<double> direct_write_seconds(const std::string& bytes, const std::filesystem::path& file) {
  TESSERA_ASSIGN_OR_RETURN(auto buffer, checkpoints::DownloadBuffer::open(file, bytes.size(), 0));
  std::memcpy(buffer->data(), bytes.data(), bytes.size());  // before the clock: a pull's bytes arrive in memory
  const auto t0 = Clock::now();
  TESSERA_RETURN_IF_ERROR(buffer->advance(bytes.size()));
  buffer->close(/*durable=*/true);
  TESSERA_RETURN_IF_ERROR(buffer->wait());
  const double sec = since(t0);
  std::filesystem::remove(file);
  return sec;
}

Status run_pull_bench(const std::string& spec_path, int reps, bool json) {
  // No BLAS worker threads: after building the model they would spin for a while and take
  // a core from the first pulls (a `checkpoint pull` builds no model).
  model::configure_cpu_threads(1);
  TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(spec_path));
  TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
  const auto root = std::filesystem::temp_directory_path() / ("tessera-bench-pull-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  auto gpt = model::make_gpt(config, spec.seed);
  checkpoints::NamedTensors tensors;
  for (const auto& [name, p] : gpt->named_params()) tensors.emplace_back(name, p.detach().clone());
  TESSERA_ASSIGN_OR_RETURN(auto store, checkpoints::CheckpointStore::open(root / "store"));
  checkpoints::Manifest m;
  m.run_id = spec.name;
  m.model = config.describe();
  TESSERA_ASSIGN_OR_RETURN(std::string hash, store.put(tensors, m, Keypair::generate()));
  TESSERA_ASSIGN_OR_RETURN(auto server, checkpoints::CheckpointServer::start(&store, "127.0.0.1:0"));
  TESSERA_ASSIGN_OR_RETURN(std::string file, read_file(root / "store" / "objects" / hash / "model.safetensors"));
  const double bytes = static_cast<double>(file.size());
  double pull_s = 1e30, first_pull_s = 0, raw_s = 1e30, raw_durable_s = 1e30, raw_mem_s = 1e30, durable_s = 1e30,
         direct_s = 1e30, blake3_s = 1e30, blake2b_s = 1e30;
  std::string transport;
  // Every timed copy starts with the disk idle: the previous copy's output is deleted
  // and sync() flushes what is pending (its writeback, the journal, the discards of the
  // deleted blocks) before the clock starts, so that no copy pays for another.
  auto fresh = [&](const std::filesystem::path& leftover) {
    std::filesystem::remove_all(leftover);
    ::sync();
  };
  for (int r = 0; r < reps; ++r) {
    fresh(root / "out");
    TESSERA_ASSIGN_OR_RETURN(auto res, checkpoints::pull_checkpoint({"127.0.0.1:" + std::to_string(server->port()), hash,
                                                                     root / "out"}));
    pull_s = std::min(pull_s, res.seconds);
    if (r == 0) first_pull_s = res.seconds;
    transport = res.transport;
    fresh(root / "raw-copy");
    TESSERA_ASSIGN_OR_RETURN(double t, raw_tcp_seconds(file, root / "raw-copy"));
    raw_s = std::min(raw_s, t);
    fresh(root / "raw-copy");
    TESSERA_ASSIGN_OR_RETURN(double td, raw_tcp_seconds(file, root / "raw-copy", /*durable=*/true));
    raw_durable_s = std::min(raw_durable_s, td);
    TESSERA_ASSIGN_OR_RETURN(double m, raw_tcp_seconds(file));
    raw_mem_s = std::min(raw_mem_s, m);
    fresh(root / "durable-copy");
    TESSERA_ASSIGN_OR_RETURN(double d, durable_write_seconds(file, root / "durable-copy"));
    durable_s = std::min(durable_s, d);
    fresh(root / "direct-copy");
    TESSERA_ASSIGN_OR_RETURN(double dd, direct_write_seconds(file, root / "direct-copy"));
    direct_s = std::min(direct_s, dd);
    // What verifying costs: the file hashed on one core with the tensor hash (BLAKE3) and
    // with BLAKE2b, the hash the tensors used before.
    blake3_s = std::min(blake3_s, best_seconds(1, [&] { (void)blake3_256(file); }));
    blake2b_s = std::min(blake2b_s, best_seconds(1, [&] { (void)blake2b_256(file); }));
  }
  std::filesystem::remove_all(root);
  const nlohmann::json out = {
      {"bench", "pull"},
      {"model", config.describe()},
      {"checkpoint_bytes", bytes},
      {"pull_gbps", bytes / pull_s / 1e9},
      {"raw_tcp_gbps", bytes / raw_s / 1e9},
      {"pull_vs_raw_tcp", raw_s / pull_s},
      {"first_pull_gbps", bytes / first_pull_s / 1e9},
      {"first_pull_vs_raw_tcp", raw_s / first_pull_s},
      {"raw_tcp_durable_gbps", bytes / raw_durable_s / 1e9},
      {"pull_vs_raw_tcp_durable", raw_durable_s / pull_s},
      {"raw_tcp_memory_gbps", bytes / raw_mem_s / 1e9},
      {"pull_vs_raw_tcp_memory", raw_mem_s / pull_s},
      {"durable_write_gbps", bytes / durable_s / 1e9},
      {"durable_write_vs_raw_tcp", raw_s / durable_s},
      {"direct_write_gbps", bytes / direct_s / 1e9},
      {"disk_bound_vs_raw_tcp", raw_s / direct_s},
      {"transport", transport},
      {"blake3_gbps", bytes / blake3_s / 1e9},
      {"blake2b_gbps", bytes / blake2b_s / 1e9},
      {"cores", std::thread::hardware_concurrency()},
      {"note", "pull = manifest (gRPC) + the model over the raw data plane (transport tcp; grpc = the gRPC "
               "Download stream) received into memory and written to the file with O_DIRECT + fdatasync + every tensor "
               "hashed with BLAKE3 (during the transfer) + manifest written and synced (during the transfer) + both renamed into place and the directory synced, the best of the repetitions (the "
               "gRPC channel is reused from the first, as a follower reuses it every window); first_pull = the first "
               "repetition, which also opens the gRPC channel; raw_tcp = one TCP connection writing the same bytes to a file (no fsync, no "
               "verification); raw_tcp_durable = the same, fdatasync'd before the clock stops (the durability a pull gives, still no verification); raw_tcp_memory = the same into memory; direct_write = the bytes written to a new file the way a pull writes them (O_DIRECT, fdatasync), no network: the disk's rate for the pull's write path, so disk_bound_vs_raw_tcp is about the best pull_vs_raw_tcp the disk allowed in the run (measured moments apart: the disk's speed moves, and a pull can come out slightly above it); durable_write = the bytes written to a new file through the page cache and fdatasync'd, no network (how fast this disk takes a plain durable copy at the time; the pull, whose O_DIRECT writes overlap the transfer, can beat it); blake3/blake2b = the file hashed on one core"}};
  if (json) std::printf("%s\n", out.dump(2).c_str());
  else std::printf("pull %.3f GB/s over %s (first %.3f GB/s, ratio %.2f), raw tcp to a file %.3f GB/s (ratio %.2f), to a file + fdatasync %.3f GB/s (ratio %.2f), to memory %.3f GB/s (ratio %.2f); "
                   "durable write without network %.3f GB/s (ratio %.2f), the pull's O_DIRECT write alone %.3f GB/s (ratio %.2f: about the disk's bound); hashing on one core: BLAKE3 %.2f GB/s, BLAKE2b %.2f GB/s (%s, %.1f MB)\n",
                   bytes / pull_s / 1e9, transport.c_str(), bytes / first_pull_s / 1e9, raw_s / first_pull_s,
                   bytes / raw_s / 1e9, raw_s / pull_s, bytes / raw_durable_s / 1e9, raw_durable_s / pull_s, bytes / raw_mem_s / 1e9,
                   raw_mem_s / pull_s, bytes / durable_s / 1e9, raw_s / durable_s, bytes / direct_s / 1e9, raw_s / direct_s, bytes / blake3_s / 1e9, bytes / blake2b_s / 1e9, config.describe().c_str(), bytes / 1e6);
  return Status::Ok();
}
// Merge throughput: K decoded int2-k32 deltas of the model (from random dense deltas
// through the real codec), clipped and merged; GB/s counted on the dense model size.
Status run_aggregate_bench(const std::vector<std::string>& spec_paths, int reps, bool json) {
  model::configure_cpu_threads(1);
  nlohmann::json rows = nlohmann::json::array();
  double memcpy_best = 1e30;
  for (const auto& spec_path : spec_paths) {
    TESSERA_ASSIGN_OR_RETURN(RunSpec spec, load_run_spec(spec_path));
    TESSERA_ASSIGN_OR_RETURN(model::ModelConfig config, model::resolve_config(spec.model));
    auto gpt = model::make_gpt(config, spec.seed);
    std::vector<std::vector<std::int64_t>> shapes;
    std::int64_t numel = 0;
    for (const auto& [name, p] : gpt->named_params()) {
      shapes.emplace_back(p.sizes().begin(), p.sizes().end());
      numel += p.numel();
    }
    const double dense_bytes = static_cast<double>(numel) * 4.0;
    std::vector<char> src(static_cast<std::size_t>(dense_bytes)), dst(src.size());
    std::memset(src.data(), 1, src.size());
    TESSERA_ASSIGN_OR_RETURN(auto settings, gradients::CodecSettings::from_preset("int2-k32"));
    for (int k : {1, 8, 32}) {
      std::vector<gradients::DecodedDelta> deltas;
      torch::manual_seed(static_cast<std::uint64_t>(k));
      for (int i = 0; i < k; ++i) {
        std::vector<gradients::IndexedTensor> d;
        for (std::size_t j = 0; j < shapes.size(); ++j) d.push_back({static_cast<std::uint32_t>(j), torch::randn(shapes[j])});
        TESSERA_ASSIGN_OR_RETURN(auto enc, gradients::encode_delta(d, settings));
        deltas.push_back(std::move(enc.reconstruction));
      }
      std::vector<const gradients::DecodedDelta*> ptrs;
      for (const auto& d : deltas) ptrs.push_back(&d);
      double merge_s = 1e30, memcpy_s = 1e30;
      for (int r = 0; r < reps; ++r) {
        memcpy_s = std::min(memcpy_s, best_seconds(3, [&] { std::memcpy(dst.data(), src.data(), src.size()); }));
        Status st;
        merge_s = std::min(merge_s, best_seconds(1, [&] {
          auto m = gradients::merge_deltas(ptrs, shapes);
          if (!m.ok()) st = m.status();
        }));
        TESSERA_RETURN_IF_ERROR(st);
      }
      memcpy_best = std::min(memcpy_best, memcpy_s);
      rows.push_back({{"model", config.describe()},
                      {"submissions", k},
                      {"merge_seconds", merge_s},
                      {"merge_gbps", dense_bytes / merge_s / 1e9},
                      {"memcpy_gbps", dense_bytes / memcpy_s / 1e9},
                      {"merge_vs_memcpy", memcpy_s / merge_s}});
    }
  }
  const nlohmann::json out = {{"bench", "aggregate"}, {"codec", "int2-k32"}, {"threads", 1}, {"results", rows}};
  if (json) {
    std::printf("%s\n", out.dump(2).c_str());
  } else {
    for (const auto& r : rows) {
      std::printf("%-60s K=%2d  merge %.4fs  %.2f GB/s  (memcpy %.2f GB/s, %.3fx)\n", r["model"].get<std::string>().c_str(),
                  r["submissions"].get<int>(), r["merge_seconds"].get<double>(), r["merge_gbps"].get<double>(),
                  r["memcpy_gbps"].get<double>(), r["merge_vs_memcpy"].get<double>());
    }
  }
  return Status::Ok();
}
}  // namespace

void add_bench_commands(CLI::App& app, const GlobalOptions&, int* exit_code) {
  auto* bench = app.add_subcommand("bench", "Benchmarks that print JSON");
  bench->require_subcommand(1);
  static std::string spec_path = "examples/tiny.toml";
  static std::vector<std::string> presets = {"fp16-k32", "int8-k32", "int4-k32", "int2-k32", "sign-k32", "sign-k8"};
  static bool json = false;
  static std::string codec_device = "cpu";
  auto* codec = bench->add_subcommand("codec", "Delta codec: compression ratio, throughput vs memcpy, error");
  codec->add_option("--device", codec_device, "cpu | cuda | cuda:N: where the delta lives and the codec runs");
  codec->add_option("--spec", spec_path, "Run spec whose model and corpus give the delta");
  codec->add_option("--presets", presets, "Codec presets, e.g. int2-k32 sign-k8 int2-k32-dct");
  static int reps = 5;
  codec->add_option("--reps", reps, "Timed repetitions per preset (the best is reported)")->check(CLI::Range(1, 100000));
  codec->add_flag("--json", json, "Print JSON");
  codec->callback([exit_code] { *exit_code = report(run_codec_bench(spec_path, presets, reps, codec_device, json)); });

  auto* netb = bench->add_subcommand("net", "Submission channel throughput against raw ZeroMQ, loopback");
  static int net_count = 200;
  static bool net_json = false;
  netb->add_option("--count", net_count, "Submissions per message size")->check(CLI::Range(1, 100000));
  netb->add_flag("--json", net_json, "Print JSON");
  netb->callback([exit_code] { *exit_code = report(run_net_bench(net_count, net_json)); });

  auto* pullb = bench->add_subcommand("pull", "Checkpoint pull over loopback against plain TCP of the same bytes");
  static std::string pull_spec = "examples/tiny.toml";
  static int pull_reps = 5;
  static bool pull_json = false;
  pullb->add_option("--spec", pull_spec, "Run spec whose model is checkpointed");
  pullb->add_option("--reps", pull_reps, "Repetitions (best reported)")->check(CLI::Range(1, 1000));
  pullb->add_flag("--json", pull_json, "Print JSON");
  pullb->callback([exit_code] { *exit_code = report(run_pull_bench(pull_spec, pull_reps, pull_json)); });

  auto* aggb = bench->add_subcommand("aggregate", "Merge throughput for K = 1, 8, 32 int2-k32 submissions");
  static std::vector<std::string> agg_specs = {"examples/tiny.toml"};
  static int agg_reps = 5;
  static bool agg_json = false;
  aggb->add_option("--spec", agg_specs, "Run specs (one row set per model)");
  aggb->add_option("--reps", agg_reps, "Repetitions (best reported)")->check(CLI::Range(1, 1000));
  aggb->add_flag("--json", agg_json, "Print JSON");
  aggb->callback([exit_code] { *exit_code = report(run_aggregate_bench(agg_specs, agg_reps, agg_json)); });

  add_role_bench_commands(bench, exit_code);
}

}  // namespace tessera::cli

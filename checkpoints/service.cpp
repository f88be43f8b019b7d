#include "checkpoints/service.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "checkpoints/data_plane.h"
#include "checkpoints/download.h"
#include "checkpoints/safetensors.h"
#include "checkpoints/serve_metrics.h"
#include "core/file_io.h"
#include "core/hash.h"
#include "net/grpc.h"
#include "proto/checkpoint.grpc.pb.h"

namespace tessera::checkpoints {

namespace fs = std::filesystem;

namespace {
constexpr std::size_t kChunk = 1u << 20;
// One gRPC message either way: a manifest (≤ 8 MiB of JSON, which is thousands of
// tensors) or one chunk. Everything larger streams as chunks (proto/checkpoint.proto).
constexpr int kMessageBytes = 8 << 20;

class Service final : public proto::CheckpointService::Service {
 public:
  explicit Service(const CheckpointStore* store) : store_(store) {}
  void set_data_port(int port) { data_port_ = port; }

  grpc::Status GetManifest(grpc::ServerContext*, const proto::ManifestRequest* req, proto::ManifestReply* reply) override {
    served_requests_metric("manifest").inc();
    std::string hash = req->hash();
    if (hash.empty()) {
      auto latest = store_->latest();
      if (!latest.ok()) return net::to_grpc(latest.status());
      hash = *latest;
    }
    if (!is_checkpoint_hash(hash)) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a checkpoint hash");
    }
    const fs::path dir = store_->root() / "objects" / hash;
    auto text = read_file(dir / "manifest.json");
    if (!text.ok()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no checkpoint " + hash);
    std::error_code ec;
    reply->set_hash(hash);
    reply->set_manifest_json(*text);
    reply->set_model_bytes(fs::file_size(dir / "model.safetensors", ec));
    reply->set_data_port(static_cast<std::uint32_t>(data_port_.load()));
    return grpc::Status::OK;
  }

  grpc::Status GetBlob(grpc::ServerContext* ctx, const proto::BlobRequest* req,
                       grpc::ServerWriter<proto::Chunk>* writer) override {
    served_requests_metric("blob").inc();
    auto path = store_->blob_path(req->hash());
    if (!path.ok()) return net::to_grpc(path.status());
    return stream_file(ctx, *path, 0, writer);
  }

  grpc::Status GetUpdate(grpc::ServerContext* ctx, const proto::ManifestRequest* req,
                         grpc::ServerWriter<proto::Chunk>* writer) override {
    served_requests_metric("update").inc();
    auto path = store_->update_path(req->hash());
    if (!path.ok()) return net::to_grpc(path.status());
    return stream_file(ctx, *path, 0, writer);
  }

  grpc::Status Download(grpc::ServerContext* ctx, const proto::DownloadRequest* req,
                        grpc::ServerWriter<proto::Chunk>* writer) override {
    served_requests_metric("download").inc();
    if (!is_checkpoint_hash(req->hash())) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "not a checkpoint hash");
    }
    const fs::path path = store_->root() / "objects" / req->hash() / "model.safetensors";
    if (!fs::exists(path)) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no checkpoint " + req->hash());
    return stream_file(ctx, path, req->offset(), writer);
  }

 private:
  // `path` from `offset` as 1 MiB chunks, until the end or the client goes away.
  static grpc::Status stream_file(grpc::ServerContext* ctx, const fs::path& path, std::uint64_t offset,
                                  grpc::ServerWriter<proto::Chunk>* writer) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return grpc::Status(grpc::StatusCode::NOT_FOUND, "cannot open " + path.filename().string());
    in.seekg(static_cast<std::streamoff>(offset));
    std::string buf(kChunk, '\0');
    while (!ctx->IsCancelled() && in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      const auto n = static_cast<std::size_t>(in.gcount());
      if (n == 0) break;
      proto::Chunk chunk;
      chunk.set_offset(offset);
      chunk.set_data(buf.data(), n);
      if (!writer->Write(chunk)) break;
      sent_bytes_metric("grpc").inc(static_cast<double>(n));
      offset += n;
    }
    return grpc::Status::OK;
  }

  const CheckpointStore* store_;
  std::atomic<int> data_port_{0};
};
}  // namespace

struct CheckpointServer::Impl {
  std::unique_ptr<Service> service;
  std::unique_ptr<net::GrpcServer> server;
  std::unique_ptr<DataServer> data;
};

Result<std::unique_ptr<CheckpointServer>> CheckpointServer::start(const CheckpointStore* store, const std::string& listen,
                                                                  int data_port) {
  std::unique_ptr<CheckpointServer> s(new CheckpointServer());
  s->host_ = host_of(listen);
  if (s->host_ == "0.0.0.0" || s->host_ == "[::]" || s->host_.empty()) s->host_ = "127.0.0.1";
  s->impl_ = std::make_unique<Impl>();
  s->impl_->service = std::make_unique<Service>(store);
  TESSERA_ASSIGN_OR_RETURN(s->impl_->server, net::GrpcServer::start({listen, kMessageBytes}, {s->impl_->service.get()}));
  // The raw data plane on the same host; without it pulls use the gRPC Download.
  auto data = DataServer::start(store->root() / "objects", host_of(listen), data_port);
  if (!data.ok() && data_port != 0) return data.status();
  if (data.ok()) {
    s->impl_->data = std::move(*data);
    s->impl_->service->set_data_port(s->impl_->data->port());
  } else {
    spdlog::warn("{} — checkpoint downloads use gRPC only", data.status().message());
  }
  return s;
}

CheckpointServer::~CheckpointServer() { stop(); }
int CheckpointServer::port() const { return impl_ && impl_->server ? impl_->server->port() : 0; }
std::string CheckpointServer::address() const { return host_ + ":" + std::to_string(port()); }
int CheckpointServer::data_port() const { return impl_ && impl_->data ? impl_->data->port() : 0; }
void CheckpointServer::stop() {
  if (impl_ && impl_->data) impl_->data->stop();
  if (impl_ && impl_->server) impl_->server->stop();
}

namespace {

using Stub = proto::CheckpointService::Stub;

// One channel per server (and message limit) for the whole process, as gRPC advises: a
// follower pulls and catches up from the same aggregator every window, and a new channel
// costs a TCP and HTTP/2 handshake each time. A cached
// channel that lost its server is replaced by a new one (which connects at once, without
// the old one's reconnect backoff of up to two minutes).
// A source that refuses or cannot be reached fails at once, and none is waited for longer
// than `connect_timeout`, so a dead source does not eat the time of the sources after it.
Result<std::unique_ptr<Stub>> connect_service(const std::string& address, int max_message_bytes,
                                              std::chrono::milliseconds connect_timeout = std::chrono::seconds(10)) {
  static std::mutex mu;
  static std::map<std::pair<std::string, int>, std::shared_ptr<grpc::Channel>> channels;
  const auto key = std::make_pair(address, max_message_bytes);
  std::shared_ptr<grpc::Channel> channel;
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = channels.find(key); it != channels.end()) channel = it->second;
  }
  if (channel) {
    const auto state = channel->GetState(/*try_to_connect=*/true);
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN ||
        !channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(1))) {
      channel.reset();
    }
  }
  if (!channel) {
    TESSERA_ASSIGN_OR_RETURN(channel, net::connect_channel(address, max_message_bytes, connect_timeout, /*fail_fast=*/true));
    std::lock_guard<std::mutex> lock(mu);
    channels[key] = channel;
  }
  return proto::CheckpointService::NewStub(channel);
}

// One unary call with a deadline; `what` names it in errors.
template <typename Reply, typename Request, typename Method>
Result<Reply> unary(Stub& stub, Method method, const Request& request, std::chrono::seconds deadline, const std::string& what) {
  Reply reply;
  grpc::ClientContext ctx;
  net::set_deadline(&ctx, deadline);
  TESSERA_RETURN_IF_ERROR(net::from_grpc((stub.*method)(&ctx, request, &reply), what));
  return reply;
}

struct ServedManifest {
  Manifest manifest;
  std::string hash;
  std::uint64_t model_bytes = 0;
  int data_port = 0;  // 0: the server offers no raw data plane
};

// The manifest served for `expected` ("" = the server's latest), checked to hash to the
// name it is served under and, when `expected` is given, to be that checkpoint.
Result<ServedManifest> read_manifest(Stub& stub, const std::string& expected,
                                     std::chrono::seconds deadline = std::chrono::seconds(30)) {
  proto::ManifestRequest req;
  req.set_hash(expected);
  TESSERA_ASSIGN_OR_RETURN(auto reply, unary<proto::ManifestReply>(stub, &Stub::GetManifest, req, deadline,
                                                                   "reading the checkpoint manifest"));
  TESSERA_ASSIGN_OR_RETURN(Manifest manifest, Manifest::from_json(reply.manifest_json()));
  if (!is_checkpoint_hash(reply.hash())) return Corrupted("the server names its manifest '" + reply.hash().substr(0, 80) + "'");
  const std::string hash = manifest.content_hash();
  if (hash != reply.hash()) return Corrupted("the server's manifest does not hash to " + reply.hash().substr(0, 16) + "…");
  if (!expected.empty() && hash != expected) {
    return Corrupted("checkpoint hash " + hash.substr(0, 16) + "… differs from the announced " + expected.substr(0, 16) + "…");
  }
  return ServedManifest{std::move(manifest), hash, reply.model_bytes(), static_cast<int>(reply.data_port())};
}

// What a pull of `o` can vouch for, in words.
std::string what_was_verified(const PullOptions& o) {
  if (o.expected_hash.empty()) {
    return "self-consistent only: no expected hash was given, so nothing ties it to a chain announcement";
  }
  if (o.expected_signer.empty()) return "the expected hash; the signer was not checked against an announcement";
  return "the announced hash and signer";
}

// One source: the manifest is checked (hash, name, signer, sizes) before anything is
// allocated or written; then the model arrives within `pace` and every tensor is checked.
Result<PullResult> pull_from(const std::string& address, const PullOptions& o, const TransferPace& pace,
                             const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  const auto t0 = std::chrono::steady_clock::now();
  const auto call_deadline = std::chrono::seconds(std::max<std::int64_t>(
      1, std::min<std::int64_t>(30, std::chrono::duration_cast<std::chrono::seconds>(pace.remaining()).count())));
  TESSERA_ASSIGN_OR_RETURN(auto stub, connect_service(address, kMessageBytes,
                                                       std::min<std::chrono::milliseconds>(std::chrono::seconds(10), pace.remaining())));
  TESSERA_ASSIGN_OR_RETURN(ServedManifest served, read_manifest(*stub, o.expected_hash, call_deadline));
  Manifest& manifest = served.manifest;
  const std::string& hash = served.hash;
  const std::uint64_t model_bytes = served.model_bytes;
  TESSERA_RETURN_IF_ERROR(verify_manifest(manifest, hash, o.expected_signer));
  // The served size must fit the manifest's tensors (plus at most the header cap), so a
  // hostile server cannot make us allocate or wait for more.
  std::uint64_t tensor_bytes = 0;
  for (const auto& t : manifest.tensors) {
    const auto bytes = float32_bytes(t.shape);
    if (!bytes.ok() || __builtin_add_overflow(tensor_bytes, *bytes, &tensor_bytes)) {
      return Corrupted("the manifest's tensor " + t.name + " has a bad shape");
    }
  }
  if (model_bytes < tensor_bytes + 8 || model_bytes > tensor_bytes + 8 + kSafetensorsMaxHeader) {
    return Corrupted("server reports a model of " + std::to_string(model_bytes) + " bytes; the manifest's tensors need " +
                     std::to_string(tensor_bytes) + " plus a header");
  }
  if (o.max_model_bytes != 0 && model_bytes > o.max_model_bytes) {
    return ResourceExhausted("the checkpoint's model is " + std::to_string(model_bytes) + " bytes, over this pull's limit of " +
                             std::to_string(o.max_model_bytes));
  }
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) return IoError("cannot create " + o.out.string() + ": " + ec.message());
  const fs::path manifest_partial = o.out / "manifest.json.partial";
  TESSERA_RETURN_IF_ERROR(write_file_synced(manifest_partial, manifest.to_json(), 0644));
  const fs::path partial = o.out / "model.safetensors.partial";
  const fs::path stamp = o.out / "model.safetensors.partial.hash";
  PullResult result;
  result.hash = hash;
  result.source = address;
  // Resume only a partial download of the same checkpoint.
  std::uint64_t offset = 0;
  const auto stamped = fs::exists(stamp) ? read_file(stamp) : Result<std::string>(NotFound("no stamp"));
  if (fs::exists(partial) && stamped.ok() && *stamped == hash) {
    offset = fs::file_size(partial, ec);
    if (offset > model_bytes) offset = 0;
  }
  if (offset == 0) {
    fs::remove(partial, ec);
    // The stamp only lets a later run resume; it is not fsynced (a stamp lost or torn by a
    // crash restarts the download, and a stale partial fails verification and is dropped).
    std::ofstream stamp_file(stamp, std::ios::binary | std::ios::trunc);
    stamp_file << hash;
    stamp_file.close();
    if (!stamp_file) return IoError("cannot write " + stamp.string());
  }
  result.resumed_from = offset;
  TESSERA_ASSIGN_OR_RETURN(auto buffer, DownloadBuffer::open(partial, model_bytes, offset));
  StreamHasher hasher(buffer->data(), model_bytes);
  hasher.arrived(offset);
  auto arrived = [&] {
    hasher.arrived(buffer->received());
    if (progress) progress(buffer->received(), model_bytes);
  };
  Status transfer;
  result.transport = "grpc";
  if (o.transport == PullTransport::kAuto && served.data_port != 0 && offset < model_bytes) {
    auto sock = open_download(host_of(address), served.data_port, hash, offset, model_bytes - offset,
                              std::chrono::seconds(std::max<std::int64_t>(1, call_deadline.count())));
    if (sock.ok()) {
      result.transport = "tcp";
      transfer = receive_into(*sock, *buffer, model_bytes - offset, arrived, &pace);
      ::close(*sock);
    } else {
      spdlog::warn("{} — downloading over gRPC instead", sock.status().message());
    }
  }
  if (result.transport == "grpc") {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + pace.remaining());
    proto::DownloadRequest dreq;
    dreq.set_hash(hash);
    dreq.set_offset(buffer->received());
    const std::uint64_t from = buffer->received();
    // The stream is read on this thread; a watchdog cancels it when the pace runs out, so
    // a server that sends nothing cannot block the read past the deadline or the rate.
    std::atomic<bool> reading{true};
    std::mutex watch_mu;
    std::condition_variable watch_cv;
    std::thread watchdog([&] {
      std::unique_lock<std::mutex> lock(watch_mu);
      while (reading) {
        watch_cv.wait_for(lock, std::chrono::milliseconds(200));
        if (reading && !pace.check(buffer->received() - from).ok()) ctx.TryCancel();
      }
    });
    auto reader = stub->Download(&ctx, dreq);
    proto::Chunk chunk;
    while (transfer.ok() && reader->Read(&chunk)) {
      const std::string& d = chunk.data();
      const std::uint64_t at = buffer->received();
      if (chunk.offset() != at) {
        transfer = Corrupted("download: chunk at offset " + std::to_string(chunk.offset()) + ", expected " + std::to_string(at));
      } else if (d.size() > model_bytes - at) {
        transfer = Corrupted("download: the server sent more than the " + std::to_string(model_bytes) + " bytes it announced");
      } else {
        std::memcpy(buffer->data() + at, d.data(), d.size());
        transfer = buffer->advance(d.size());
        if (transfer.ok()) arrived();
        if (transfer.ok()) transfer = pace.check(buffer->received() - from);
      }
    }
    {
      std::lock_guard<std::mutex> lock(watch_mu);
      reading = false;
    }
    watch_cv.notify_all();
    watchdog.join();
    if (!transfer.ok()) ctx.TryCancel();
    const grpc::Status st = reader->Finish();
    if (transfer.ok() && !st.ok()) {
      const Status paced = pace.check(buffer->received() - from);
      transfer = !paced.ok() ? paced
                             : net::from_grpc(st, "downloading (rerun to resume from byte " +
                                                      std::to_string(buffer->received()) + ")");
    }
  }
  offset = buffer->received();
  // The writer finishes the file (and syncs it, for a whole download) while the hashing
  // ends and the tensors are checked; an interrupted download leaves every byte that
  // arrived in the partial file for a rerun (or the next source).
  buffer->close(transfer.ok() && offset == model_bytes);
  hasher.finish();
  if (!transfer.ok() || offset != model_bytes) {
    const Status written = buffer->wait();
    if (!transfer.ok()) return transfer;
    if (!written.ok()) return written;
    return IoError("download ended at byte " + std::to_string(offset) + " of " + std::to_string(model_bytes) +
                   " (rerun to resume)");
  }
  auto hashes = hasher.hashes();
  auto file = hashes.ok() ? decode_safetensors(buffer->memory(), model_bytes) : Result<SafetensorsFile>(hashes.status());
  Status verified = file.ok() ? verify_tensors(manifest, hash, file->tensors, &*hashes) : file.status();
  if (!verified.ok()) {
    (void)buffer->wait();
    fs::remove(partial, ec);  // corrupt: do not resume from it
    fs::remove(manifest_partial, ec);
    return verified.with_context(partial.string());
  }
  TESSERA_RETURN_IF_ERROR(buffer->wait());
  // Both files are synced; the renames become durable with the directory's fsync.
  fs::rename(manifest_partial, o.out / "manifest.json", ec);
  if (ec) return IoError("cannot move the manifest into place: " + ec.message());
  fs::rename(partial, o.out / "model.safetensors", ec);
  if (ec) return IoError("cannot move the model into place: " + ec.message());
  fs::remove(stamp, ec);
  TESSERA_RETURN_IF_ERROR(fsync_directory(o.out));
  result.bytes = offset;
  result.verified = what_was_verified(o);
  result.checkpoint = Checkpoint{std::move(manifest), std::move(file->tensors), hash};
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace

PullOptions role_pull_options(const RunSpec& spec, std::vector<std::string> mirrors, double deadline_s) {
  PullOptions o;
  o.mirrors = std::move(mirrors);
  const double window_ms = static_cast<double>(spec.schedule.blocks_per_window) * spec.schedule.block_time_ms;
  const double ms = deadline_s > 0 ? deadline_s * 1000 : std::max(30000.0, window_ms);
  o.deadline = std::chrono::milliseconds(static_cast<std::int64_t>(ms));
  return o;
}

Result<PullResult> pull_checkpoint(const PullOptions& o, const std::function<void(std::uint64_t, std::uint64_t)>& progress) {
  if (!o.expected_hash.empty() && !is_checkpoint_hash(o.expected_hash)) {
    return InvalidArgument("'" + o.expected_hash + "' is not a checkpoint hash (64 hex digits)");
  }
  std::vector<std::string> sources;
  const auto add = [&](const std::vector<std::string>& more) {
    for (const auto& m : more) {
      if (!m.empty() && std::find(sources.begin(), sources.end(), m) == sources.end()) sources.push_back(m);
    }
  };
  add({o.address});
  add(o.mirrors);
  bool asked_for_more = false;
  const auto ask_for_more = [&] {
    if (asked_for_more || !o.more_sources) return;
    asked_for_more = true;
    add(o.more_sources());
  };
  if (sources.empty()) ask_for_more();
  if (sources.empty()) return InvalidArgument("no checkpoint source to pull from");
  const bool several = sources.size() > 1 || o.more_sources;
  const auto start = std::chrono::steady_clock::now();
  std::string failures;
  Status last;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    const std::string source = sources[i];
    const auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    if (spent >= o.deadline) break;
    // Each source gets the time left and must keep the minimum rate on its own.
    const TransferPace pace(o.deadline - spent, o.min_bytes_per_second, o.grace);
    auto r = pull_from(source, o, pace, progress);
    if (r.ok()) {
      r->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      return r;
    }
    last = r.status();
    if (several) spdlog::warn("checkpoint source {} failed: {}", source, last.message());
    failures += (failures.empty() ? "" : "; ") + source + ": " + last.message();
    if (i + 1 == sources.size()) ask_for_more();
  }
  if (sources.size() == 1 && !last.ok()) return last;
  return Status(last.ok() ? StatusCode::kDeadlineExceeded : last.code(),
                "no source delivered the checkpoint within " + std::to_string(o.deadline.count() / 1000) + " s (" +
                    (failures.empty() ? "no time left" : failures) + ")");
}

namespace {
// A whole streamed object (GetBlob, GetUpdate): chunks in order, refused as soon as it
// grows past `max_bytes`, within `deadline`.
template <typename Request, typename Method>
Result<std::string> read_stream(Stub& stub, Method method, const Request& request, std::uint64_t max_bytes,
                                std::chrono::seconds deadline, const std::string& what) {
  grpc::ClientContext ctx;
  net::set_deadline(&ctx, deadline);
  auto reader = (stub.*method)(&ctx, request);
  std::string data;
  proto::Chunk chunk;
  Status status;
  while (status.ok() && reader->Read(&chunk)) {
    if (chunk.offset() != data.size()) {
      status = Corrupted(what + ": chunk at offset " + std::to_string(chunk.offset()) + ", expected " + std::to_string(data.size()));
    } else if (chunk.data().size() > max_bytes - data.size()) {
      status = ResourceExhausted(what + ": the server sends more than the limit of " + std::to_string(max_bytes) + " bytes");
    } else {
      data += chunk.data();
    }
  }
  if (!status.ok()) {
    ctx.TryCancel();
    (void)reader->Finish();
    return status;
  }
  TESSERA_RETURN_IF_ERROR(net::from_grpc(reader->Finish(), what));
  return data;
}
}  // namespace

Result<std::string> fetch_blob(const std::string& address, const std::string& hash, std::uint64_t max_bytes) {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a blob hash (64 hex digits)");
  TESSERA_ASSIGN_OR_RETURN(auto stub, connect_service(address, kMessageBytes));
  proto::BlobRequest req;
  req.set_hash(hash);
  TESSERA_ASSIGN_OR_RETURN(std::string data, read_stream(*stub, &Stub::GetBlob, req, max_bytes, std::chrono::seconds(600),
                                                         "fetching blob " + hash.substr(0, 16) + "…"));
  if (to_hex(blake2b_256(data)) != hash) return Corrupted("blob " + hash.substr(0, 16) + "… from " + address + " does not match its hash");
  return data;
}

Result<Manifest> fetch_manifest(const std::string& address, const std::string& hash, const std::string& expected_signer) {
  if (!is_checkpoint_hash(hash)) return InvalidArgument("'" + hash + "' is not a checkpoint hash (64 hex digits)");
  TESSERA_ASSIGN_OR_RETURN(auto stub, connect_service(address, kMessageBytes));
  TESSERA_ASSIGN_OR_RETURN(ServedManifest served, read_manifest(*stub, hash));
  TESSERA_RETURN_IF_ERROR(verify_manifest(served.manifest, hash, expected_signer));
  return std::move(served.manifest);
}

Result<std::string> fetch_update(const std::string& address, const std::string& child, std::uint64_t max_bytes) {
  if (!is_checkpoint_hash(child)) return InvalidArgument("'" + child + "' is not a checkpoint hash (64 hex digits)");
  TESSERA_ASSIGN_OR_RETURN(auto stub, connect_service(address, kMessageBytes));
  proto::ManifestRequest req;
  req.set_hash(child);
  return read_stream(*stub, &Stub::GetUpdate, req, max_bytes, std::chrono::seconds(600),
                     "fetching the update to " + child.substr(0, 16) + "…");
}

}  // namespace tessera::checkpoints

#include "node/http_server.h"

#include <httplib.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <array>
#include <atomic>
#include <cctype>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "core/bytes.h"
#include "core/canonical_json.h"
#include "core/fs.h"
#include "core/limits.h"
#include "node/taxii.h"
#include "tlog/tile.h"

namespace accord::node {
namespace {

constexpr const char* kJson = "application/json";

std::string ErrorBody(std::string_view message) {
  json::Json j = {{"error", std::string(message)}};
  return j.dump(-1, ' ', false, json::Json::error_handler_t::replace) + "\n";
}

void SendError(httplib::Response& res, int status, std::string_view message) {
  res.status = status;
  res.set_content(ErrorBody(message), kJson);
}

// "application/json; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

std::string AcceptedJson(const Accepted& a) {
  return "{\"duplicate\":" + std::string(a.duplicate ? "true" : "false") + ",\"id\":\"" + a.id +
         "\",\"index\":" + std::to_string(a.index) + "}";
}

// A record as the lookup API shows it: the fields, and the leaf as a JSON value (it is JSON).
json::Json RecordJson(const Record& r) {
  json::Json j;
  j["index"] = r.index;
  j["id"] = r.id;
  j["kind"] = std::string(statement::KindName(r.kind));
  j["author"] = Base64Encode(ByteView(reinterpret_cast<const char*>(r.author.data()), r.author.size()));
  j["created"] = r.created;
  j["added_ms"] = r.added_ms;
  j["retracted"] = r.retracted;
  j["statement"] = json::Json::parse(r.leaf, nullptr, false);
  return j;
}

json::Json ParticipantJson(const Participant& p) {
  return {{"key", Base64Encode(ByteView(reinterpret_cast<const char*>(p.key.data()), p.key.size()))},
          {"name", p.name},
          {"country", p.country},
          {"contact", p.contact},
          {"index", p.index},
          {"added_ms", p.added_ms},
          {"retracted", p.retracted}};
}

std::string Dump(const json::Json& j) {
  return j.dump(-1, ' ', false, json::Json::error_handler_t::replace) + "\n";
}

// The author key in a URL: base64url (RFC 4648 section 5) or standard base64, padded or not.
std::optional<crypto::Ed25519PublicKey> ParseKeyParam(std::string s) {
  for (char& c : s) c = c == '-' ? '+' : c == '_' ? '/' : c;
  while (s.size() % 4) s.push_back('=');
  auto b = Base64Decode(s);
  if (!b || b->size() != 32) return std::nullopt;
  crypto::Ed25519PublicKey k{};
  std::copy(b->begin(), b->end(), k.begin());
  return k;
}

constexpr std::array<int, 12> kCountedStatus = {200, 201, 400, 403, 404, 405, 406, 409, 413, 415, 422, 503};

// cpp-httplib's thread pool with a bound on the connections that wait for a thread: past it the
// listener waits before accepting more, so they wait in the kernel's listen queue, holding none
// of the process's file descriptors (httplib's own pool queues without limit, each holding one,
// until the process cannot open a tile or its index). `stopping` lets a waiting listener through
// once the server stops.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t max_waiting, const std::atomic<bool>* stopping)
      : max_waiting_(max_waiting), stopping_(stopping) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock lock(mu_);
    while (jobs_.size() >= max_waiting_ && !shutdown_ && !stopping_->load())
      space_.wait_for(lock, std::chrono::milliseconds(100));
    jobs_.push_back(std::move(fn));
    lock.unlock();
    work_.notify_one();
  }
  void shutdown() override {
    {
      std::lock_guard lock(mu_);
      shutdown_ = true;
    }
    work_.notify_all();
    space_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void Work() {
    for (;;) {
      std::function<void()> fn;
      {
        std::unique_lock lock(mu_);
        work_.wait(lock, [&] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shut down, and nothing left to serve
        fn = std::move(jobs_.front());
        jobs_.pop_front();
      }
      space_.notify_one();
      fn();
    }
  }

  const size_t max_waiting_;
  const std::atomic<bool>* stopping_;
  std::mutex mu_;
  std::condition_variable work_, space_;
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

// The index failing: 503 when it is only unreachable for now (PostgreSQL down), 500 otherwise.
int StoreErrorStatus(const Status& s) {
  return s.code() == Code::kUnavailable ? 503 : 500;
}

}  // namespace

int HttpStatusFor(const Status& s) {
  switch (s.code()) {
    case Code::kInvalidArgument:
      return s.message().rfind("body", 0) == 0 ? 422 : 400;
    case Code::kResourceExhausted:
      return 413;
    case Code::kPermissionDenied:
      return 403;
    case Code::kAlreadyExists:
      return 409;
    case Code::kNotFound:
    case Code::kFailedPrecondition:
      return 422;
    case Code::kUnavailable:
      return 503;
    default:
      return 500;
  }
}

struct HttpServer::Impl {
  Node& node;
  HttpOptions options;
  std::unique_ptr<httplib::Server> server;
  HttpHandler taxii;
  std::function<std::vector<MetricSample>()> more_metrics;
  int port = 0;
  int listen_fd = -1;
  size_t threads = 0, max_waiting = 0;  // as Start sized them
  std::atomic<bool> stop_requested{false}, run_started{false}, run_done{false};
  std::array<std::atomic<uint64_t>, kCountedStatus.size() + 1> by_status{};
  // Tiles and bundles never change once written (a partial of width W is always the same bytes),
  // so the ones served are kept in memory, up to kTileCacheBytes, dropped in hash order past it.
  static constexpr size_t kTileCacheBytes = 64u << 20;
  std::shared_mutex tiles_mu;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> tiles;
  size_t tile_bytes = 0;
  std::atomic<uint64_t> requests{0};

  Impl(Node& n, HttpOptions o) : node(n), options(std::move(o)) {}

  void Count(int status) {
    requests++;
    for (size_t i = 0; i < kCountedStatus.size(); ++i)
      if (kCountedStatus[i] == status) {
        by_status[i]++;
        return;
      }
    by_status.back()++;
  }

  void PostStatements(const httplib::Request& req, httplib::Response& res);
  void GetLogFile(const httplib::Request& req, httplib::Response& res);
  void GetStatement(const httplib::Request& req, httplib::Response& res);
  void Lookup(const httplib::Request& req, httplib::Response& res);
  void Metrics(httplib::Response& res);
  void Taxii(const httplib::Request& req, httplib::Response& res);
  void Routes();
};

void HttpServer::Impl::PostStatements(const httplib::Request& req, httplib::Response& res) {
  std::string type = MediaType(req.get_header_value("Content-Type"));
  if (type == "application/json") {
    Result<Accepted> a = node.Submit(req.body);
    if (!a.ok()) return SendError(res, HttpStatusFor(a.status()), a.status().message());
    res.status = a->duplicate ? 200 : 201;
    res.set_content(AcceptedJson(*a) + "\n", kJson);
    return;
  }
  if (type == "application/x-ndjson") {
    // Lines end in LF or CRLF (NDJSON allows both); empty lines are skipped. Splitting stops one
    // past the limit, so a body of empty-ish lines costs no more than the limit's worth of views.
    std::vector<ByteView> leaves;
    std::string_view rest = req.body;
    while (!rest.empty() && leaves.size() <= options.max_batch) {
      size_t nl = rest.find('\n');
      std::string_view line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      if (nl != std::string_view::npos && !line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (!line.empty()) leaves.push_back(line);
    }
    if (leaves.empty()) return SendError(res, 400, "no statement in the body");
    if (leaves.size() > options.max_batch)
      return SendError(res, 413,
                       "more than " + std::to_string(options.max_batch) + " statements, over the limit of " +
                           std::to_string(options.max_batch) + " per request");
    auto results = node.SubmitMany(leaves);
    std::string out;
    out.reserve(results.size() * 110);
    for (const auto& r : results) {
      if (r.ok()) {
        out += AcceptedJson(*r);
      } else {
        json::Json j = {{"error", r.status().message()}, {"status", HttpStatusFor(r.status())}};
        out += j.dump(-1, ' ', false, json::Json::error_handler_t::replace);
      }
      out += '\n';
    }
    res.status = 200;
    res.set_content(out, "application/x-ndjson");
    return;
  }
  SendError(res, 415,
            "a statement is sent as application/json (one) or application/x-ndjson (one per line), not \"" +
                type + "\"");
}

void HttpServer::Impl::GetLogFile(const httplib::Request& req, httplib::Response& res) {
  std::string rel = req.path.substr(1);
  if (rel == "checkpoint") {
    auto data = fs::ReadFile(fs::JoinPath(node.log_dir(), "checkpoint"), limits::kMaxNoteSize);
    if (!data.ok()) return SendError(res, 503, "the checkpoint cannot be read");
    res.set_header("Cache-Control", "no-cache, max-age=0");
    res.set_content(*data, "text/plain; charset=utf-8");
    return;
  }
  // Only paths that TilePath writes: no "..", no other files of the directory.
  auto coord = tlog::ParseTilePath(rel);
  if (!coord.ok()) return SendError(res, 404, "no such tile: " + coord.status().message());
  std::shared_ptr<const std::string> data;
  {
    std::shared_lock lock(tiles_mu);
    if (auto it = tiles.find(rel); it != tiles.end()) data = it->second;
  }
  if (!data) {
    auto read = fs::ReadFile(fs::JoinPath(node.log_dir(), rel), limits::kMaxBundleSize);
    if (!read.ok()) {
      if (read.status().code() == Code::kNotFound) return SendError(res, 404, "no such tile in this log");
      return SendError(res, 500, "the tile cannot be read");
    }
    data = std::make_shared<const std::string>(std::move(read).value());
    std::unique_lock lock(tiles_mu);
    if (tiles.emplace(rel, data).second) {
      tile_bytes += data->size();
      while (tile_bytes > kTileCacheBytes && !tiles.empty()) {
        tile_bytes -= tiles.begin()->second->size();
        tiles.erase(tiles.begin());
      }
    }
  }
  res.set_header("Cache-Control", "public, max-age=31536000, immutable");
  res.set_content(*data, "application/octet-stream");
}

void HttpServer::Impl::GetStatement(const httplib::Request& req, httplib::Response& res) {
  std::string what = req.matches[1];
  Result<std::optional<Record>> r = std::optional<Record>();
  if (what.rfind("id/", 0) == 0) {
    auto idx = node.store().FindId(what.substr(3));
    if (!idx.ok()) return SendError(res, 400, idx.status().message());
    if (*idx) r = node.store().Get(**idx);
  } else {
    auto idx = ParseDecimal(what);
    if (!idx)
      return SendError(res, 400, "a statement is named by its log index (decimal) or id/<hex SHA-256>");
    r = node.store().Get(*idx);
  }
  if (!r.ok()) return SendError(res, StoreErrorStatus(r.status()), r.status().message());
  if (!r->has_value()) return SendError(res, 404, "no such statement in this log");
  res.set_content(Dump(RecordJson(**r)), kJson);
}

void HttpServer::Impl::Lookup(const httplib::Request& req, httplib::Response& res) {
  std::string by = req.matches[1], value = req.matches[2];
  size_t limit = 100;
  uint64_t from = 0;
  if (req.has_param("limit")) {
    auto l = ParseDecimal(req.get_param_value("limit"));
    if (!l || *l == 0 || *l > 1000) return SendError(res, 400, "limit: an integer from 1 to 1000");
    limit = size_t(*l);
  }
  if (req.has_param("from")) {
    auto f = ParseDecimal(req.get_param_value("from"));
    if (!f) return SendError(res, 400, "from: a log index");
    from = *f;
  }
  Result<std::vector<Record>> records = std::vector<Record>();
  if (by == "hash") {
    std::string hex = value;
    for (char& c : hex) c = char(std::tolower(static_cast<unsigned char>(c)));
    records = node.store().FindDigest(hex, limit);
    if (!records.ok() && records.status().code() == Code::kInvalidArgument)
      return SendError(res, 400, records.status().message());
  } else {
    auto key = ParseKeyParam(value);
    if (!key) return SendError(res, 400, "an author is named by its Ed25519 public key in base64url");
    ListQuery q;
    q.author = *key;
    q.from_index = from;
    q.limit = limit;
    records = node.store().List(q);
  }
  if (!records.ok()) return SendError(res, StoreErrorStatus(records.status()), records.status().message());
  json::Json out = json::Json::array();
  for (const auto& r : *records) out.push_back(RecordJson(r));
  json::Json body = {{"statements", out}};
  if (records->size() == limit && by == "author") body["next"] = records->back().index + 1;
  res.set_content(Dump(body), kJson);
}

void HttpServer::Impl::Metrics(httplib::Response& res) {
  const NodeCounters& c = node.counters();
  auto cp = node.checkpoint();
  std::string m;
  auto line = [&](std::string_view name, std::string_view help, std::string_view type, uint64_t v) {
    m += "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) + " " +
         std::string(type) + "\n" + std::string(name) + " " + std::to_string(v) + "\n";
  };
  line("accord_statements_accepted_total", "Statements logged.", "counter", c.accepted.load());
  line("accord_statements_duplicate_total", "Identical resubmissions answered with their index.", "counter",
       c.duplicates.load());
  line("accord_statements_refused_total", "Statements refused.", "counter", c.refused.load());
  line("accord_log_rounds_total", "Rounds of the log (durable, checkpointed, indexed).", "counter",
       c.rounds.load());
  line("accord_log_size", "Entries in the latest published checkpoint.", "gauge", cp.checkpoint.size);
  line("accord_sequencer_epoch",
       "With PostgreSQL: the epoch of the sequencer's lease while this process holds it, else 0.", "gauge",
       c.sequencer_epoch.load());
  m += "# HELP accord_http_requests_total HTTP requests answered, by status.\n"
       "# TYPE accord_http_requests_total counter\n";
  for (size_t i = 0; i < kCountedStatus.size(); ++i)
    m += "accord_http_requests_total{code=\"" + std::to_string(kCountedStatus[i]) + "\"} " +
         std::to_string(by_status[i].load()) + "\n";
  m += "accord_http_requests_total{code=\"other\"} " + std::to_string(by_status.back().load()) + "\n";
  line("accord_http_threads",
       "Connections served at once (HttpOptions::threads, bounded by the open-file limit).", "gauge",
       threads);
  line("accord_http_waiting_max",
       "Accepted connections that may wait for a thread; more wait in the listen queue.", "gauge",
       max_waiting);
  if (more_metrics)
    for (const MetricSample& x : more_metrics()) line(x.name, x.help, x.type, x.value);
  res.set_content(m, "text/plain; version=0.0.4; charset=utf-8");
}

void HttpServer::Impl::Taxii(const httplib::Request& req, httplib::Response& res) {
  if (!taxii) return SendError(res, 404, "TAXII is not served by this node");
  HttpRequest r;
  r.method = req.method;
  r.path = req.path;
  size_t q = req.target.find('?');
  if (q != std::string::npos) r.query = req.target.substr(q + 1);
  r.accept = req.get_header_value("Accept");
  r.content_type = req.get_header_value("Content-Type");
  r.authorization = req.get_header_value("Authorization");
  r.body = req.body;
  HttpReply reply = taxii(r);
  res.status = reply.status;
  for (const auto& [k, v] : reply.headers) res.set_header(k, v);
  res.set_content(reply.body, reply.content_type);
}

void HttpServer::Impl::Routes() {
  httplib::Server& s = *server;
  s.Post("/statements", [this](const httplib::Request& q, httplib::Response& r) { PostStatements(q, r); });
  s.Get("/checkpoint", [this](const httplib::Request& q, httplib::Response& r) { GetLogFile(q, r); });
  s.Get(R"(/tile/.+)", [this](const httplib::Request& q, httplib::Response& r) { GetLogFile(q, r); });
  s.Get(R"(/statements/(.+))",
        [this](const httplib::Request& q, httplib::Response& r) { GetStatement(q, r); });
  s.Get(R"(/lookup/(hash|author)/([^/]+))",
        [this](const httplib::Request& q, httplib::Response& r) { Lookup(q, r); });
  s.Get("/participants", [this](const httplib::Request&, httplib::Response& r) {
    auto ps = node.store().Participants();
    if (!ps.ok()) return SendError(r, StoreErrorStatus(ps.status()), ps.status().message());
    json::Json out = json::Json::array();
    for (const auto& p : *ps) out.push_back(ParticipantJson(p));
    r.set_content(Dump({{"participants", out}}), kJson);
  });
  s.Get("/metrics", [this](const httplib::Request&, httplib::Response& r) { Metrics(r); });
  auto taxii_route = [this](const httplib::Request& q, httplib::Response& r) { Taxii(q, r); };
  s.Get(R"(/taxii2/.*)", taxii_route);
  s.Post(R"(/taxii2/.*)", taxii_route);
  s.Put(R"(/taxii2/.*)", taxii_route);
  s.Delete(R"(/taxii2/.*)", taxii_route);
  s.Patch(R"(/taxii2/.*)", taxii_route);
  s.set_error_handler([](const httplib::Request&, httplib::Response& r) {
    if (!r.body.empty()) return;
    std::string m = r.status == 404   ? "no such resource"
                    : r.status == 413 ? "the body is over the limit of " +
                                            std::to_string(limits::kMaxEntrySize) + " bytes per statement"
                    : r.status == 405 ? "method not allowed"
                                      : "request refused";
    SendError(r, r.status, m);
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& r, std::exception_ptr) {
    SendError(r, 500, "internal error");
  });
  s.set_logger([this](const httplib::Request&, const httplib::Response& r) { Count(r.status); });
}

HttpServer::HttpServer(Node& node, HttpOptions options)
    : impl_(std::make_unique<Impl>(node, std::move(options))) {}
HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::SetTaxiiHandler(HttpHandler handler) {
  impl_->taxii = std::move(handler);
}

void HttpServer::SetMoreMetrics(std::function<std::vector<MetricSample>()> metrics) {
  impl_->more_metrics = std::move(metrics);
}

Status HttpServer::Start() {
  const HttpOptions& o = impl_->options;
  if (o.tls_cert.empty() != o.tls_key.empty())
    return InvalidArgument("TLS needs both a certificate and its key");
  if (!o.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!tls->is_valid())
      return InvalidArgument(o.tls_cert + ", " + o.tls_key +
                             ": not a usable PEM certificate and private key");
    impl_->server = std::move(tls);
  } else {
    impl_->server = std::make_unique<httplib::Server>();
  }
  httplib::Server& s = *impl_->server;
  // Every connection holds a descriptor, served or waiting: together at most half of what the
  // process may open, the rest kept for the log's files and the index.
  size_t threads = std::max<size_t>(o.threads, 1), waiting = threads;
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY) {
    const size_t room = std::max<size_t>(size_t(nofile.rlim_cur) / 2, 16);
    threads = std::min(threads, room / 2);
    waiting = std::min(threads, room - threads);
  }
  impl_->threads = threads;
  impl_->max_waiting = waiting;
  const std::atomic<bool>* stopping = &impl_->stop_requested;
  s.new_task_queue = [threads, waiting, stopping] { return new BoundedPool(threads, waiting, stopping); };
  s.set_read_timeout(o.read_timeout_s, 0);
  s.set_write_timeout(o.write_timeout_s, 0);
  s.set_keep_alive_timeout(o.keep_alive_timeout_s);
  s.set_keep_alive_max_count(o.keep_alive_max);
  // One request body: a statement, or a batch of them (NDJSON).
  s.set_payload_max_length(std::max<size_t>(
      {limits::kMaxEntrySize, o.max_batch * (limits::kMaxEntrySize / 16), taxii::limits::kMaxPostBytes + 1}));
  s.set_tcp_nodelay(true);
  Impl* impl = impl_.get();
  s.set_socket_options([impl](socket_t fd) {
    int on = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
    impl->listen_fd = fd;
  });
  impl_->Routes();
  bool ok;
  if (o.port == 0) {
    impl_->port = s.bind_to_any_port(o.host);
    ok = impl_->port > 0;
  } else {
    ok = s.bind_to_port(o.host, o.port);
    impl_->port = o.port;
  }
  if (!ok) return FailedPrecondition("cannot listen on " + o.host + ":" + std::to_string(o.port));
  // cpp-httplib listens with a backlog of 5; a busy node needs room for bursts of connections.
  if (impl_->listen_fd >= 0) ::listen(impl_->listen_fd, 4096);
  return Status::Ok();
}

int HttpServer::port() const {
  return impl_->port;
}

Status HttpServer::Run() {
  if (!impl_->server) return FailedPrecondition("Start first");
  impl_->run_started = true;
  bool listened = false;
  if (!impl_->stop_requested) listened = impl_->server->listen_after_bind();
  impl_->run_done = true;
  // cpp-httplib gives up listening when accept fails (ENFILE, ENOBUFS, ...): an error, not a stop.
  if (!impl_->stop_requested)
    return Internal("the HTTP server stopped listening" +
                    std::string(listened ? "" : " (accepting a connection failed)"));
  return Status::Ok();
}

// Nothing here waits: `accord serve` calls it from a signal handler, on Run's own thread.
void HttpServer::Stop() {
  if (!impl_->server) return;
  impl_->stop_requested = true;
  if (!impl_->run_started || impl_->run_done) return;  // Run will not listen, or is over
  if (impl_->server->is_running()) {
    impl_->server->stop();
  } else if (impl_->listen_fd >= 0) {
    // Run is about to listen, and httplib ignores stop() until it does: shut the listening socket
    // down instead, so that its first accept fails and the loop ends at once.
    ::shutdown(impl_->listen_fd, SHUT_RDWR);
  }
}

}  // namespace accord::node

#include "node/http_server.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <cctype>
#include <cstring>
#include <mutex>
#include <optional>
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

void SendError(HttpReply& res, int status, std::string_view message) {
  res.status = status;
  res.body = ErrorBody(message);
  res.content_type = kJson;
}

void SetContent(HttpReply& res, std::string body, std::string_view type) {
  res.body = std::move(body);
  res.content_type = std::string(type);
}

// "application/json; charset=utf-8" -> "application/json".
std::string MediaType(std::string_view content_type) {
  std::string t(content_type.substr(0, content_type.find(';')));
  while (!t.empty() && (t.back() == ' ' || t.back() == '\t')) t.pop_back();
  for (char& c : t) c = char(std::tolower(static_cast<unsigned char>(c)));
  return t;
}

// The value of the first `name=value` of a query string, decoded; InvalidArgument for a bad
// percent escape.
Result<std::optional<std::string>> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    auto key = PercentDecode(pair.substr(0, eq), true);
    auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1), true);
    if (!key || !value) return InvalidArgument("the query has a bad percent escape");
    if (*key == name) return std::optional<std::string>(std::move(value).value());
  }
  return std::optional<std::string>();
}

std::string AcceptedJson(const Accepted& a) {
  return "{\"duplicate\":" + std::string(a.duplicate ? "true" : "false") + ",\"id\":\"" + a.id +
         "\",\"index\":" + std::to_string(a.index) + "}";
}

// The answer to one statement submitted.
HttpReply SubmitReply(const Result<Accepted>& a) {
  HttpReply res;
  if (!a.ok()) {
    SendError(res, HttpStatusFor(a.status()), a.status().message());
  } else {
    res.status = a->duplicate ? 200 : 201;
    SetContent(res, AcceptedJson(*a) + "\n", kJson);
  }
  return res;
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

// Connections open at once by default (each can hold up to a statement's body and the headers
// in memory, about 80 KiB), within half the open-file limit.
constexpr size_t kDefaultMaxConnections = 16384;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

struct HttpServer::Impl {
  Node& node;
  HttpOptions options;
  HttpHandler taxii;
  std::function<std::vector<MetricSample>()> more_metrics;
  int port = 0;
  size_t max_connections = 0;  // as Start sized it
  size_t max_body = 0;
  std::atomic<bool> stop_requested{false}, started{false};
  std::array<std::atomic<uint64_t>, kCountedStatus.size() + 1> by_status{};
  std::atomic<uint64_t> requests{0}, connections{0}, refused_connections{0};
  // Statements handed to Node::SubmitAsync and not answered yet: their callbacks post to `io`,
  // which must outlive them (Run waits for them once the I/O threads are stopped).
  std::atomic<uint64_t> submitting{0};
  // Bytes of batch and TAXII bodies being read or waiting to be handled (the largest requests):
  // past kMaxLargeBodies more are answered 503. Other bodies are at most one statement each.
  static constexpr uint64_t kMaxLargeBodies = uint64_t{256} << 20;
  std::atomic<uint64_t> large_bodies{0};
  std::atomic<uint64_t> refusing{0};  // connections over max_connections being answered 503
  // Tiles and bundles never change once written (a partial of width W is always the same bytes),
  // so the ones served are kept in memory, up to kTileCacheBytes, dropped in hash order past it.
  static constexpr size_t kTileCacheBytes = 64u << 20;
  std::shared_mutex tiles_mu;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> tiles;
  size_t tile_bytes = 0;
  // Stop writes a byte here (async-signal-safe); the I/O threads read it and stop.
  int stop_pipe[2] = {-1, -1};
  // Destroyed in reverse order: the acceptor and the stop pipe's reader; then the I/O context,
  // with every connection still queued in it (their destructors use the counters above); then the
  // TLS context and the handler pool (joined by then).
  std::optional<asio::thread_pool> handlers;
  std::optional<asio::ssl::context> tls;
  asio::io_context io;
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::posix::stream_descriptor> stop_reader;
  std::optional<asio::steady_timer> accept_pause;
  char stop_byte = 0;

  Impl(Node& n, HttpOptions o) : node(n), options(std::move(o)) {}
  ~Impl() {
    if (handlers) handlers->join();
    for (int fd : stop_pipe)
      if (fd >= 0) ::close(fd);
  }

  void Count(int status) {
    requests++;
    for (size_t i = 0; i < kCountedStatus.size(); ++i)
      if (kCountedStatus[i] == status) {
        by_status[i]++;
        return;
      }
    by_status.back()++;
  }

  // Whether a request is answered on the I/O thread: reads from memory or one small file.
  static bool Quick(const HttpRequest& req) {
    return (req.method == "GET" || req.method == "HEAD") &&
           (req.path == "/checkpoint" || req.path == "/metrics" || req.path.rfind("/tile/", 0) == 0);
  }
  HttpReply Handle(const HttpRequest& req);
  void Accept();
  void PostStatements(const HttpRequest& req, HttpReply& res);
  void GetLogFile(const HttpRequest& req, HttpReply& res);
  void GetStatement(const HttpRequest& req, HttpReply& res);
  void Lookup(const HttpRequest& req, HttpReply& res);
  void Metrics(HttpReply& res);
  void Taxii(const HttpRequest& req, HttpReply& res);
};

void HttpServer::Impl::PostStatements(const HttpRequest& req, HttpReply& res) {
  std::string type = MediaType(req.content_type);
  if (type == "application/json") {
    res = SubmitReply(node.Submit(req.body));
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
    SetContent(res, std::move(out), "application/x-ndjson");
    return;
  }
  SendError(res, 415,
            "a statement is sent as application/json (one) or application/x-ndjson (one per line), not \"" +
                type + "\"");
}

void HttpServer::Impl::GetLogFile(const HttpRequest& req, HttpReply& res) {
  std::string rel = req.path.substr(1);
  if (rel == "checkpoint") {
    auto data = fs::ReadFile(fs::JoinPath(node.log_dir(), "checkpoint"), limits::kMaxNoteSize);
    if (!data.ok()) return SendError(res, 503, "the checkpoint cannot be read");
    res.headers.emplace_back("Cache-Control", "no-cache, max-age=0");
    SetContent(res, std::move(data).value(), "text/plain; charset=utf-8");
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
  res.headers.emplace_back("Cache-Control", "public, max-age=31536000, immutable");
  SetContent(res, *data, "application/octet-stream");
}

void HttpServer::Impl::GetStatement(const HttpRequest& req, HttpReply& res) {
  std::string what = req.path.substr(std::string_view("/statements/").size());
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
  SetContent(res, Dump(RecordJson(**r)), kJson);
}

void HttpServer::Impl::Lookup(const HttpRequest& req, HttpReply& res) {
  // /lookup/(hash|author)/VALUE
  std::string_view rest = std::string_view(req.path).substr(std::string_view("/lookup/").size());
  size_t slash = rest.find('/');
  std::string by(rest.substr(0, slash));
  std::string value(slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1));
  if ((by != "hash" && by != "author") || value.empty() || value.find('/') != std::string::npos)
    return SendError(res, 404, "no such resource");
  size_t limit = 100;
  uint64_t from = 0;
  auto lp = QueryParam(req.query, "limit");
  auto fp = QueryParam(req.query, "from");
  if (!lp.ok() || !fp.ok())
    return SendError(res, 400, lp.ok() ? fp.status().message() : lp.status().message());
  if (*lp) {
    auto l = ParseDecimal(**lp);
    if (!l || *l == 0 || *l > 1000) return SendError(res, 400, "limit: an integer from 1 to 1000");
    limit = size_t(*l);
  }
  if (*fp) {
    auto f = ParseDecimal(**fp);
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
  SetContent(res, Dump(body), kJson);
}

void HttpServer::Impl::Metrics(HttpReply& res) {
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
  line("accord_http_handler_threads", "Requests handled at once (HttpOptions::threads).", "gauge",
       options.threads);
  line("accord_http_connections", "Connections open now.", "gauge", connections.load());
  line("accord_http_connections_max",
       "Connections open at once at most (HttpOptions::max_connections, bounded by the open-file limit).",
       "gauge", max_connections);
  line("accord_http_connections_refused_total", "Connections answered 503 because max_connections were open.",
       "counter", refused_connections.load());
  if (more_metrics)
    for (const MetricSample& x : more_metrics()) line(x.name, x.help, x.type, x.value);
  SetContent(res, std::move(m), "text/plain; version=0.0.4; charset=utf-8");
}

void HttpServer::Impl::Taxii(const HttpRequest& req, HttpReply& res) {
  if (!taxii) return SendError(res, 404, "TAXII is not served by this node");
  res = taxii(req);
}

HttpReply HttpServer::Impl::Handle(const HttpRequest& req) {
  HttpReply res;
  const std::string& p = req.path;
  const bool get = req.method == "GET" || req.method == "HEAD";
  auto known = [&](bool method_ok, auto&& serve) {
    if (!method_ok) return SendError(res, 405, "method not allowed");
    serve();
  };
  try {
    if (p == "/statements")
      known(req.method == "POST", [&] { PostStatements(req, res); });
    else if (p == "/checkpoint" || p.rfind("/tile/", 0) == 0)
      known(get, [&] { GetLogFile(req, res); });
    else if (p.rfind("/statements/", 0) == 0 && p.size() > std::string_view("/statements/").size())
      known(get, [&] { GetStatement(req, res); });
    else if (p.rfind("/lookup/", 0) == 0)
      known(get, [&] { Lookup(req, res); });
    else if (p == "/participants")
      known(get, [&] {
        auto ps = node.store().Participants();
        if (!ps.ok()) return SendError(res, StoreErrorStatus(ps.status()), ps.status().message());
        json::Json out = json::Json::array();
        for (const auto& x : *ps) out.push_back(ParticipantJson(x));
        SetContent(res, Dump({{"participants", out}}), kJson);
      });
    else if (p == "/metrics")
      known(get, [&] { Metrics(res); });
    else if (p.rfind("/taxii2/", 0) == 0)
      Taxii(req, res);
    else
      SendError(res, 404, "no such resource");
  } catch (const std::exception&) {
    res = HttpReply();
    SendError(res, 500, "internal error");
  }
  return res;
}

namespace {

// One connection: reads a request whole (within the deadlines and caps), has it handled, writes
// the answer, and goes on while the connection is kept alive. One request at a time: the next is
// not read before the answer is written, so a connection holds at most one request and one answer.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `refuse`: a connection over max_connections, answered 503 and closed.
  Session(HttpServer::Impl& server, Stream stream, bool refuse)
      : server_(server), stream_(std::move(stream)), deadline_(stream_.get_executor()), refuse_(refuse) {
    if (refuse_) {
      server_.refusing++;
      server_.refused_connections++;
    } else {
      server_.connections++;
    }
  }
  ~Session() {
    Release();
    if (refuse_)
      server_.refusing--;
    else
      server_.connections--;
  }

  void Start() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      Begin();
    } else {
      Lowest().expires_after(std::chrono::seconds(server_.options.read_timeout_s));
      stream_.async_handshake(asio::ssl::stream_base::server,
                              [self = this->shared_from_this()](beast::error_code ec) {
                                if (!ec) self->Begin();
                              });
    }
  }

 private:
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }

  void Begin() {
    if (!refuse_) return Read();
    parser_.emplace();  // Failed and Answer look at it
    HttpReply busy = Error(503, "too many connections; try again later");
    busy.headers.emplace_back("Retry-After", "1");
    Answer(std::move(busy), false, false);
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(uint32_t(std::min<size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    limit_ = server_.max_body;
    parser_->body_limit(limit_);
    // The first request, and the headers of any, within read_timeout_s; an idle connection (no
    // byte of its next request yet) within keep_alive_timeout_s.
    const int wait = served_ == 0 || buffer_.size() > 0 ? server_.options.read_timeout_s
                                                        : server_.options.keep_alive_timeout_s;
    Lowest().expires_never();  // the deadline below bounds the read, not the last write's
    Deadline(std::chrono::seconds(wait));
    bhttp::async_read_header(
        stream_, buffer_, *parser_,
        [self = this->shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
  }

  void OnHeader(beast::error_code ec) {
    if (ec) return Failed(ec);
    // The body within read_timeout_s of the headers (after a keep-alive wait for the headers).
    if (!parser_->is_done() && deadline_seconds_ != server_.options.read_timeout_s)
      Deadline(std::chrono::seconds(server_.options.read_timeout_s));
    const auto& h = parser_->get();
    version_ = h.version() == 10 ? 10 : 11;
    // The body's limit by what the request is: batches and TAXII envelopes may be large, and those
    // in memory at once are bounded together; everything else is at most one statement.
    const std::string_view target = h.target();
    const bool large = h.method() == bhttp::verb::post &&
                       ((target.rfind("/statements", 0) == 0 &&
                         MediaType(std::string_view(h[bhttp::field::content_type])) != kJson) ||
                        target.find("/taxii2/") != std::string_view::npos);
    const uint64_t limit = large ? server_.max_body : limits::kMaxEntrySize;
    const auto length = parser_->content_length();
    if (length && *length > limit) return Failed(bhttp::error::body_limit, limit);
    parser_->body_limit(limit);
    limit_ = limit;
    if (large && !parser_->is_done()) {
      reserved_ = length ? *length : limit;
      if (server_.large_bodies.fetch_add(reserved_) + reserved_ > HttpServer::Impl::kMaxLargeBodies) {
        Release();
        return Answer(Busy(), false, false);
      }
    }
    if (!parser_->is_done() && version_ == 11 && beast::iequals(h[bhttp::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = this->shared_from_this()](beast::error_code e, size_t) {
                          if (e) return self->Close();
                          self->ReadBody();
                        });
      return;
    }
    ReadBody();
  }

  // Gives back what this request took of the budget for large bodies.
  void Release() {
    server_.large_bodies -= reserved_;
    reserved_ = 0;
  }

  static HttpReply Busy() {
    HttpReply r = Error(503, "too many large requests in memory; try again later");
    r.headers.emplace_back("Retry-After", "1");
    return r;
  }

  void ReadBody() {
    bhttp::async_read(stream_, buffer_, *parser_,
                      [self = this->shared_from_this()](beast::error_code ec, size_t) {
                        self->StopDeadline();
                        if (ec) return self->Failed(ec);
                        self->Dispatch();
                      });
  }

  // Reading must end by `after` from now: then it is cancelled, and the request answered 408.
  void Deadline(std::chrono::seconds after) {
    timed_out_ = false;
    const uint64_t generation = ++deadline_generation_;
    deadline_seconds_ = int(after.count());
    deadline_.expires_after(after);
    deadline_.async_wait([self = this->shared_from_this(), generation](beast::error_code ec) {
      // Cancelled, or already queued when the read it was for ended: the request arrived in time.
      if (ec || generation != self->deadline_generation_) return;
      self->timed_out_ = true;
      // The read in progress, and any Beast starts after it, ends at once (end of stream); the
      // answer can still be written. Unlike cancel(), this holds between two reads too.
      beast::error_code e;
      self->Lowest().socket().shutdown(tcp::socket::shutdown_receive, e);
    });
  }

  void StopDeadline() {
    ++deadline_generation_;
    deadline_.cancel();
  }

  // A request that could not be read: answered when the client can hear it, then closed.
  void Failed(beast::error_code ec, uint64_t body_limit = 0) {
    StopDeadline();
    if (timed_out_ || ec == beast::error::timeout) {
      // Idle past the keep-alive timeout (nothing of a request yet): closed without a word.
      if (buffer_.size() == 0 && !parser_->got_some()) return Close();
      return Answer(Error(408, "the request did not arrive whole within " +
                                   std::to_string(deadline_seconds_) + " seconds"),
                    false, false);
    }
    if (ec == bhttp::error::header_limit)
      return Answer(Error(431, "the request line and headers are over the limit of " +
                                   std::to_string(server_.options.max_header_bytes) + " bytes"),
                    false, false);
    if (ec == bhttp::error::body_limit)
      return Answer(
          Error(413, "the body is over the limit of " + std::to_string(body_limit ? body_limit : limit_) +
                         " bytes for this request"),
          false, false);
    if (ec.category() == beast::error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
      return Answer(Error(400, "malformed HTTP request: " + ec.message()), false, false);
    Close();  // closed by the client, reset, a TLS failure
  }

  static HttpReply Error(int status, std::string_view message) {
    HttpReply r;
    SendError(r, status, message);
    return r;
  }

  void Dispatch() {
    auto& m = parser_->get();
    HttpRequest req;
    req.method = std::string(m.method_string());
    std::string_view target = m.target();
    // The absolute form ("http://host/path", RFC 9112 section 3.2.2) names the same resource.
    for (std::string_view scheme : {"http://", "https://"})
      if (target.size() > scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme)) {
        size_t slash = target.find('/', scheme.size());
        target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
        break;
      }
    size_t q = target.find('?');
    auto path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
    if (!path || path->empty() || path->front() != '/')
      return Answer(Error(400, "the request target is not a path (\"/...\") with valid percent escapes"),
                    false, false);
    req.path = std::move(path).value();
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.accept = std::string(m[bhttp::field::accept]);
    req.content_type = std::string(m[bhttp::field::content_type]);
    req.authorization = std::string(m[bhttp::field::authorization]);
    req.body = std::move(m.body());
    const bool keep = m.keep_alive() && served_ + 1 < server_.options.keep_alive_max;
    const bool head = m.method() == bhttp::verb::head;
    if (HttpServer::Impl::Quick(req)) return Answer(server_.Handle(req), keep, head);
    // One statement: parsed and its signature checked here, then answered once the log has it,
    // with no thread waiting meanwhile.
    if (req.method == "POST" && req.path == "/statements" && MediaType(req.content_type) == kJson &&
        server_.node.SubmitsAsync()) {
      server_.submitting++;
      server_.node.SubmitAsync(req.body, [self = this->shared_from_this(), keep](Result<Accepted> a) mutable {
        // Nothing of the connection is left here once `submitting` drops: Run may then destroy
        // the I/O context, and with it the connection's answer still queued there.
        HttpServer::Impl& server = self->server_;
        {
          auto ex = self->stream_.get_executor();
          asio::post(ex, [self = std::move(self), a = std::move(a), keep] {
            self->Answer(SubmitReply(a), keep, false);
          });
        }
        server.submitting--;
      });
      return;
    }
    asio::post(*server_.handlers, [self = this->shared_from_this(), req = std::move(req), keep, head] {
      HttpReply reply = self->server_.Handle(req);
      asio::post(self->stream_.get_executor(), [self, reply = std::move(reply), keep, head]() mutable {
        self->Answer(std::move(reply), keep, head);
      });
    });
  }

  void Answer(HttpReply reply, bool keep, bool head) {
    Release();
    server_.Count(reply.status);
    served_++;
    res_.emplace();
    auto& res = *res_;
    res.result(unsigned(reply.status));
    res.version(11);  // the highest version the server speaks (RFC 9110 section 6.2)
    if (!reply.content_type.empty()) res.set(bhttp::field::content_type, reply.content_type);
    for (auto& [k, v] : reply.headers) res.insert(k, v);
    const size_t length = reply.body.size();
    if (!head) res.body() = std::move(reply.body);
    res.keep_alive(keep);
    // An HTTP/1.0 client closes unless told otherwise.
    if (keep && version_ == 10) res.set(bhttp::field::connection, "keep-alive");
    res.content_length(length);
    Lowest().expires_after(std::chrono::seconds(server_.options.write_timeout_s));
    bhttp::async_write(stream_, *res_, [self = this->shared_from_this(), keep](beast::error_code ec, size_t) {
      self->res_.reset();
      if (ec) return self->Close();
      if (keep) return self->Read();
      self->Close();
    });
  }

  // Closes the connection. What the client still sends (the rest of a refused body) is read and
  // dropped for a moment first, so that it gets the answer rather than a reset.
  void Close() {
    if constexpr (!std::is_same_v<Stream, beast::tcp_stream>) {
      // close_notify for a client that waits for it, without waiting long.
      Lowest().expires_after(std::chrono::seconds(1));
      stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
        beast::error_code e;
        self->Lowest().socket().close(e);
      });
    } else {
      beast::error_code e;
      Lowest().socket().shutdown(tcp::socket::shutdown_send, e);
      if (e) return void(Lowest().socket().close(e));
      Lowest().expires_after(std::chrono::seconds(2));
      drain_ = std::make_unique<std::array<char, 16384>>();
      Drain(0);
    }
  }
  void Drain(size_t so_far) {
    Lowest().async_read_some(asio::buffer(*drain_),
                             [self = this->shared_from_this(), so_far](beast::error_code ec, size_t n) {
                               if (ec || so_far + n > kMaxDrain) {
                                 beast::error_code e;
                                 return void(self->Lowest().socket().close(e));
                               }
                               self->Drain(so_far + n);
                             });
  }
  static constexpr size_t kMaxDrain = 8u << 20;

  HttpServer::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  asio::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;
  int deadline_seconds_ = 0;
  unsigned version_ = 11;  // of the request being answered: 11 for HTTP/1.1 (or later), 10 for HTTP/1.0
  uint64_t limit_ = 0;     // of the body being read
  uint64_t reserved_ = 0;  // of HttpServer::Impl::large_bodies
  const bool refuse_;
  bool timed_out_ = false;
  size_t served_ = 0;
  std::unique_ptr<std::array<char, 16384>> drain_;
};

}  // namespace

void HttpServer::Impl::Accept() {
  acceptor->async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stop_requested) return;
    if (ec) {
      // Out of descriptors (EMFILE, ENFILE) or buffers: the connection waits in the listen queue
      // until some are closed; try again shortly rather than spin.
      accept_pause->expires_after(std::chrono::milliseconds(50));
      accept_pause->async_wait([this](beast::error_code e) {
        if (!e && !stop_requested) Accept();
      });
      return;
    }
    // Past max_connections a connection is answered 503 and closed (after its request is read
    // and dropped for a moment, so that the client sees the answer, not a reset); past as many
    // more at once, closed at once.
    bool refuse = connections.load() >= max_connections;
    if (refuse && refusing.load() >= max_connections) {
      refused_connections++;
      beast::error_code e;
      socket.close(e);
    } else {
      beast::error_code e;
      socket.set_option(tcp::no_delay(true), e);
      if (tls)
        std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
            *this, beast::ssl_stream<beast::tcp_stream>(beast::tcp_stream(std::move(socket)), *tls), refuse)
            ->Start();
      else
        std::make_shared<Session<beast::tcp_stream>>(*this, beast::tcp_stream(std::move(socket)), refuse)
            ->Start();
    }
    Accept();
  });
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
  Impl& s = *impl_;
  const HttpOptions& o = s.options;
  if (s.started) return FailedPrecondition("the HTTP server is started already");
  if (o.tls_cert.empty() != o.tls_key.empty())
    return InvalidArgument("TLS needs both a certificate and its key");
  if (!o.tls_cert.empty()) {
    s.tls.emplace(asio::ssl::context::tls_server);
    beast::error_code ec;
    s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                           asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                           asio::ssl::context::no_tlsv1_1,
                       ec);
    s.tls->use_certificate_chain_file(o.tls_cert, ec);
    if (!ec) s.tls->use_private_key_file(o.tls_key, asio::ssl::context::pem, ec);
    if (!ec && SSL_CTX_check_private_key(s.tls->native_handle()) != 1) ec = asio::error::invalid_argument;
    if (ec) {
      s.tls.reset();
      return InvalidArgument(o.tls_cert + ", " + o.tls_key +
                             ": not a usable PEM certificate and private key");
    }
  }
  // Every connection holds a descriptor: together at most half of what the process may open, the
  // rest kept for the log's files and the index.
  size_t max_conn = o.max_connections ? o.max_connections : kDefaultMaxConnections;
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY)
    max_conn = std::min(max_conn, std::max<size_t>(size_t(nofile.rlim_cur) / 2, 8));
  s.max_connections = max_conn;
  // The largest request body: a batch of statements (NDJSON), or a TAXII envelope.
  s.max_body = std::max<size_t>(
      {limits::kMaxEntrySize, o.max_batch * (limits::kMaxEntrySize / 16), taxii::limits::kMaxPostBytes + 1});
  beast::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) return InvalidArgument("cannot listen on " + o.host + ": not an IP address");
  tcp::endpoint at(address, uint16_t(o.port));
  s.acceptor.emplace(s.io);
  s.acceptor->open(at.protocol(), ec);
  if (!ec) s.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor->bind(at, ec);
  if (!ec) s.acceptor->listen(4096, ec);
  if (ec) {
    s.acceptor.reset();
    return FailedPrecondition("cannot listen on " + o.host + ":" + std::to_string(o.port) + ": " +
                              ec.message());
  }
  s.port = s.acceptor->local_endpoint().port();
  if (::pipe2(s.stop_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
    return Internal("pipe: " + std::string(strerror(errno)));
  s.stop_reader.emplace(s.io, ::dup(s.stop_pipe[0]));
  s.accept_pause.emplace(s.io);
  s.handlers.emplace(std::max<size_t>(o.threads, 1));
  s.started = true;
  return Status::Ok();
}

int HttpServer::port() const {
  return impl_->port;
}

Status HttpServer::Run() {
  Impl& s = *impl_;
  if (!s.started) return FailedPrecondition("Start first");
  // Every I/O thread returns; the acceptor, its timer and the connections are closed when the
  // server is destroyed.
  s.stop_reader->async_read_some(asio::buffer(&s.stop_byte, 1),
                                 [&s](beast::error_code, size_t) { s.io.stop(); });
  if (!s.stop_requested) {
    s.Accept();
    std::vector<std::thread> more;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < cores; ++i) more.emplace_back([&s] { s.io.run(); });
    s.io.run();
    for (auto& t : more) t.join();
  }
  // Requests being handled, and statements being logged, finish (their answers are dropped with
  // the connections).
  s.handlers->join();
  while (s.submitting.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

// Nothing here waits, locks or allocates: `accord serve` calls it from a signal handler.
void HttpServer::Stop() {
  Impl& s = *impl_;
  s.stop_requested = true;
  if (s.stop_pipe[1] >= 0) {
    char b = 1;
    [[maybe_unused]] ssize_t n = ::write(s.stop_pipe[1], &b, 1);
  }
}

}  // namespace accord::node

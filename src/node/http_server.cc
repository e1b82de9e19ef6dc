#include "node/http_server.h"

#include <array>
#include <atomic>
#include <cctype>
#include <cstring>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
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
    // Busy (the sequencer's queue is full), or PostgreSQL unreachable for now: the same bytes may
    // be sent again, and an identical resubmission is answered with the index it has. Not once
    // the log failed: the node then accepts nothing until it is restarted.
    if (res.status == 503 && a.status().message().rfind(kStoppedAccepting, 0) != 0)
      res.headers.emplace_back("Retry-After", "1");
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
  j["added_us"] = r.added_us;
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
          {"added_us", p.added_us},
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

struct HttpServer::Impl : http::Service {
  Node& node;
  HttpOptions options;
  HttpHandler taxii;
  std::function<std::vector<MetricSample>()> more_metrics;
  size_t max_body = 0;  // the largest body: a batch of statements (NDJSON), or a TAXII envelope
  // Tiles and bundles never change once written (a partial of width W is always the same bytes),
  // so the ones served are kept in memory, up to kTileCacheBytes, dropped in hash order past it.
  static constexpr size_t kTileCacheBytes = 64u << 20;
  std::shared_mutex tiles_mu;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> tiles;
  size_t tile_bytes = 0;
  std::optional<http::Server> server;  // declared last: stopped and destroyed first

  Impl(Node& n, HttpOptions o) : node(n), options(std::move(o)) {
    max_body = std::max<size_t>({limits::kMaxEntrySize, options.max_batch * (limits::kMaxEntrySize / 16),
                                 taxii::limits::kMaxPostBytes + 1});
    server.emplace(*this, options);
  }

  // http::Service. Batches and TAXII envelopes may be large, and those in memory at once are
  // bounded together; everything else is at most one statement. Decided on the path as Handle
  // routes it (decoded, without the query): a query cannot buy a larger body.
  http::BodyPolicy Body(std::string_view method, std::string_view target,
                        std::string_view content_type) override {
    bool large = false;
    if (method == "POST") {
      std::optional<std::string> path =
          PercentDecode(target.substr(0, target.find('?')), /*plus_is_space=*/false);
      large = path && ((path->starts_with("/statements") && MediaType(content_type) != kJson) ||
                       path->starts_with("/taxii2/"));
    }
    return {large ? max_body : limits::kMaxEntrySize, large};
  }
  bool Serve(HttpRequest& req, const http::Respond& respond) override;
  HttpReply Handle(const HttpRequest& req) override;
  // TAXII paths get TAXII error messages, also for what the server refuses itself (413, 503, ...).
  HttpReply Error(int status, std::string_view message, std::string_view path) override {
    HttpReply r;
    if (path.starts_with("/taxii2/") && taxii) {
      taxii::TaxiiResponse t = taxii::ErrorResponse(status, message);
      r.status = t.status;
      r.content_type = std::move(t.content_type);
      r.body = std::move(t.body);
      return r;
    }
    SendError(r, status, message);
    return r;
  }

  // Whether a request is answered on the I/O thread: reads from memory or one small file.
  static bool Quick(const HttpRequest& req) {
    return (req.method == "GET" || req.method == "HEAD") &&
           (req.path == "/checkpoint" || req.path == "/metrics" || req.path.rfind("/tile/", 0) == 0);
  }
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
    // As on the I/O threads: never waits for room (a full queue is 503 at once), only for the log.
    auto answer = std::make_shared<std::promise<Result<Accepted>>>();
    std::future<Result<Accepted>> done = answer->get_future();
    node.SubmitAsync(req.body, [answer](Result<Accepted> a) { answer->set_value(std::move(a)); });
    res = SubmitReply(done.get());
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
  const http::Stats st = server->stats();
  m += "# HELP accord_http_requests_total HTTP requests answered, by status.\n"
       "# TYPE accord_http_requests_total counter\n";
  uint64_t other = 0;
  for (uint64_t n : st.answered) other += n;
  for (int code : kCountedStatus) {
    m += "accord_http_requests_total{code=\"" + std::to_string(code) + "\"} " +
         std::to_string(st.answered[code]) + "\n";
    other -= st.answered[code];
  }
  m += "accord_http_requests_total{code=\"other\"} " + std::to_string(other) + "\n";
  line("accord_http_handler_threads", "Requests handled at once (HttpOptions::threads).", "gauge",
       st.threads);
  line("accord_http_connections", "Connections open now.", "gauge", st.connections);
  line("accord_http_connections_max",
       "Connections open at once at most (HttpOptions::max_connections, bounded by the open-file limit).",
       "gauge", st.max_connections);
  line("accord_http_connections_refused_total", "Connections answered 503 because max_connections were open.",
       "counter", st.refused_connections);
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
  return res;
}

bool HttpServer::Impl::Serve(HttpRequest& req, const http::Respond& respond) {
  if (Quick(req)) {
    respond(Handle(req));
    return true;
  }
  // One statement: parsed and its signature checked here, then answered once the log has it,
  // with no thread waiting meanwhile. Not a YARA rule: compiling one (anyone may send one, signed
  // by a key nobody registered) takes far longer than an I/O thread may block, so it goes to a
  // handler thread. A statement in canonical JSON (nothing else parses) has no whitespace, so
  // every YARA rule statement holds these bytes; other bytes holding them only take the slower way.
  if (req.method == "POST" && req.path == "/statements" && MediaType(req.content_type) == kJson &&
      node.SubmitsAsync() && req.body.find(R"("kind":"yara-rule")") == std::string::npos) {
    node.SubmitAsync(req.body, [respond](Result<Accepted> a) { respond(SubmitReply(a)); });
    return true;
  }
  return false;
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
  return impl_->server->Start();
}

int HttpServer::port() const {
  return impl_->server->port();
}

Status HttpServer::Run() {
  return impl_->server->Run();
}

// Nothing here waits, locks or allocates: `accord serve` calls it from a signal handler.
void HttpServer::Stop() {
  impl_->server->Stop();
}

}  // namespace accord::node

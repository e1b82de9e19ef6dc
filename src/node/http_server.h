// The node's HTTP service: HTTP/1.1 on Boost.Beast and Asio, with TLS through OpenSSL when given
// a certificate.
//
//   POST /statements                 a signed statement (application/json), or many, one per line
//                                    (application/x-ndjson): 201 {"index","id","duplicate":false},
//                                    200 for an identical resubmission; errors below
//   GET  /checkpoint, /tile/...      the log's read path exactly as c2sp.org/tlog-tiles
//   GET  /statements/<index>         a logged statement (its leaf), /statements/id/<hex sha256>
//   GET  /lookup/hash/<hex>          statements that list a file digest (MD5, SHA-1, SHA-256)
//   GET  /lookup/author/<b64url key> statements by an author (?from=INDEX&limit=N)
//   GET  /participants               the registered participants
//   GET  /metrics                    Prometheus text format
//   /taxii2/...                      TAXII 2.1, when a TAXII handler is set
// Errors are JSON {"error": message} with 400 (malformed), 403 (signature, unknown or retracted
// author), 404, 409 (a rule name or registration that exists), 413 (over 64 KiB), 415 (content
// type), 422 (a body that is well-formed but invalid: a rule that does not compile, ...), 503
// (the log failed, or the node is busy). docs/node.md has the full API.
//
// Shape: the connections are http/server.h's (I/O threads, deadlines, caps; docs/node.md,
// "Limits"). Once a request is whole: the checkpoint, tiles and metrics are answered on the I/O
// thread; one statement (application/json) is parsed and its signature checked there, then waits
// for the log with no thread held (Node::SubmitAsync); everything else goes to a pool of
// `threads` handler threads. Bodies are at most one statement, or a batch or TAXII envelope for
// those (413); batch and TAXII bodies in memory at once at most 256 MiB (503).
// Thread-safety: Run blocks on the calling thread; Stop may be called from any thread, and from a
// signal handler (it does not wait), before, during or after Run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "http/server.h"
#include "node/node.h"

namespace accord::node {

// The connections' options (http/server.h: listen address, TLS, handler threads, connections,
// deadlines, header cap), and the node's own. max_large_bodies is the node's (256 MiB).
struct HttpOptions : http::Options {
  size_t max_batch = 1000;  // statements in one NDJSON submission
};

// A request and an answer for a handler outside this file (TAXII).
using HttpRequest = http::Request;
using HttpReply = http::Reply;
using HttpHandler = std::function<HttpReply(const HttpRequest&)>;

struct MetricSample {
  std::string name;  // e.g. accord_taxii_render_cache_hits_total
  std::string help;
  std::string type;  // "counter" or "gauge"
  uint64_t value = 0;
};

class HttpServer {
 public:
  HttpServer(Node& node, HttpOptions options);
  ~HttpServer();
  void SetTaxiiHandler(HttpHandler handler);  // before Start
  // More samples for /metrics (a counter or gauge each, written in Prometheus' format with the
  // node's own), from the serving threads: it MUST be thread-safe. Before Start.
  void SetMoreMetrics(std::function<std::vector<MetricSample>()> metrics);
  Status Start();  // binds the port (or fails naming it)
  int port() const;
  Status Run();  // serves until Stop
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The HTTP status for a refused submission.
int HttpStatusFor(const Status& s);

}  // namespace accord::node

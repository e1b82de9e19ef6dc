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
// Shape: I/O threads (one per core, Run's own among them) read and write every connection without
// blocking. Once a request is whole: the checkpoint, tiles and metrics are answered on the I/O
// thread; one statement (application/json) is parsed and its signature checked there, then waits
// for the log with no thread held (Node::SubmitAsync); everything else goes to a pool of
// `threads` handler threads. A connection costs a descriptor and its buffers, not a thread, so
// slow, stalled or idle clients take nothing from the others: each request must arrive whole
// within read_timeout_s (else 408), headers at most max_header_bytes (431), bodies at most one
// statement, or a batch or TAXII envelope for those (413), batch and TAXII bodies in memory at
// once at most 256 MiB (503); an idle keep-alive connection is closed after
// keep_alive_timeout_s, and connections past max_connections are answered 503 and closed.
// docs/node.md, "Limits".
// Thread-safety: Run blocks on the calling thread; Stop may be called from any thread, and from a
// signal handler (it does not wait), before, during or after Run.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "node/node.h"

namespace accord::node {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port (see HttpServer::port)
  std::string tls_cert, tls_key;  // PEM files; both or neither
  // Requests handled at once (handler threads); more whole requests wait for one in memory.
  size_t threads = 256;
  // Connections open at once; 0: 16,384. At most half the open-file limit (RLIMIT_NOFILE), the
  // other half kept for the log and the index. One more is answered 503 and closed.
  size_t max_connections = 0;
  int read_timeout_s = 10;              // a request (headers and body) must arrive whole within this
  int write_timeout_s = 10;             // an answer must be taken by the client within this
  int keep_alive_timeout_s = 2;         // an idle connection is closed after this
  size_t keep_alive_max = 10000;        // requests on one connection
  size_t max_header_bytes = 16 * 1024;  // request line and headers together
  size_t max_batch = 1000;              // statements in one NDJSON submission
};

// A request and an answer for a handler outside this file (TAXII).
struct HttpRequest {
  std::string method, path, query, accept, content_type, body, authorization;
};
struct HttpReply {
  int status = 200;
  std::string content_type, body;
  std::vector<std::pair<std::string, std::string>> headers;
};
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

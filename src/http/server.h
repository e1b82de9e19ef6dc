// An HTTP/1.1 server on Boost.Beast and Asio, with TLS through OpenSSL when given a certificate:
// the connection handling that the node (node/http_server.h) and the witness (witness/server.h)
// share. What a request means is the Service's.
//
// Shape: I/O threads (one per core, Run's own among them) read and write every connection without
// blocking. Once a request is whole, Service::Serve may answer it on the I/O thread or take it to
// answer later from any thread; otherwise Service::Handle runs on one of `threads` handler
// threads. A connection costs a descriptor and its buffers, not a thread, so slow, stalled or idle
// clients take nothing from the others:
//   - a request (headers and body) must arrive whole within read_timeout_s, else 408; an idle
//     keep-alive connection is closed after keep_alive_timeout_s (the first request of a
//     connection gets read_timeout_s);
//   - request line and headers at most max_header_bytes (431);
//   - a body at most what Service::Body says for its request (413, from the Content-Length before
//     the body is read; the rest is read and dropped for a moment, so that the client gets the
//     answer rather than a reset); bodies it calls large share max_large_bodies (503);
//   - connections past max_connections (at most half the open-file limit) are answered 503 and
//     closed; an answer must be taken by the client within write_timeout_s.
// Keep-alive (HTTP/1.0's too), pipelining (one request at a time per connection), HEAD, chunked
// bodies, `Expect: 100-continue`, the absolute form of the target; a target that is not a path with
// valid percent escapes is 400, as is malformed HTTP.
// Thread-safety: Run blocks on the calling thread; Stop may be called from any thread, and from a
// signal handler (it does not wait), before, during or after Run. Stats from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/status.h"

namespace accord::http {

struct Options {
  std::string host = "127.0.0.1";
  int port = 8080;                // 0: any free port (see Server::port)
  std::string tls_cert, tls_key;  // PEM files; both or neither
  size_t threads = 256;           // Service::Handle at once; more whole requests wait in memory
  // Connections open at once; 0: 16,384. At most half the open-file limit (RLIMIT_NOFILE), the
  // other half kept for the service's own files. One more is answered 503 and closed.
  size_t max_connections = 0;
  int read_timeout_s = 10;              // a request (headers and body) must arrive whole within this
  int write_timeout_s = 10;             // an answer must be taken by the client within this
  int keep_alive_timeout_s = 2;         // an idle connection is closed after this
  size_t keep_alive_max = 10000;        // requests on one connection
  size_t max_header_bytes = 16 * 1024;  // request line and headers together
  uint64_t max_large_bodies = uint64_t{256} << 20;  // large bodies in memory at once (BodyPolicy)
};

// A whole request. `path` is percent-decoded; `query` is as sent.
struct Request {
  std::string method, path, query, accept, content_type, body, authorization;
};
struct Reply {
  int status = 200;
  std::string content_type, body;
  std::vector<std::pair<std::string, std::string>> headers;
};

// How much body a request may have, decided from its head.
struct BodyPolicy {
  uint64_t limit = 0;  // over it: 413
  bool large = false;  // counts against Options::max_large_bodies until answered
};

// Answers a request taken by Service::Serve, from any thread, without holding locks the service's
// other callbacks take. Copies share one answer: the first call gives it, later calls do nothing;
// when every copy is gone without a call, the request is answered 500. Run returns only once every
// request taken was answered, so a copy kept for ever keeps Run from returning.
using Respond = std::function<void(Reply)>;

class Service {
 public:
  virtual ~Service() = default;
  // On an I/O thread, from the request line and headers: the body's limit. Must not block. A
  // std::exception it throws is answered 500.
  virtual BodyPolicy Body(std::string_view method, std::string_view target,
                          std::string_view content_type) = 0;
  // On an I/O thread, once a request is whole: true if the service answers it through `respond`
  // (now, or later from another thread); false to have Handle run on a handler thread. Must not
  // block. `req` may be moved from when it returns true. A std::exception it throws is answered
  // 500 (unless `respond` was called already).
  virtual bool Serve(Request& req, const Respond& respond) {
    (void)req;
    (void)respond;
    return false;
  }
  // On a handler thread. A std::exception it throws is answered 500.
  virtual Reply Handle(const Request& req) = 0;
  // The answer to a request the server refuses itself (400, 408, 413, 431, 500, 503): by default
  // text/plain, the message and a newline. `path` is the request's path (percent-decoded, as
  // Request::path) if its request line was read and decodes, else empty.
  virtual Reply Error(int status, std::string_view message, std::string_view path);
};

// What the server did so far, for metrics.
struct Stats {
  uint64_t answered[600] = {};       // answers by status (1xx-5xx; others at 0)
  uint64_t connections = 0;          // open now
  uint64_t max_connections = 0;      // as Start sized it
  uint64_t refused_connections = 0;  // answered 503 (or closed) because max_connections were open
  uint64_t threads = 0;              // handler threads
};

class Server {
 public:
  Server(Service& service, Options options);  // `service` must outlive the server
  ~Server();
  Status Start();  // binds the port (or fails naming it), reads the TLS files
  int port() const;
  Status Run();  // serves until Stop
  void Stop();
  Stats stats() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::http

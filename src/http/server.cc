#include "http/server.h"

#include <fcntl.h>
#include <openssl/ssl.h>
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
#include <cerrno>
#include <cstring>
#include <optional>
#include <thread>

#include "core/bytes.h"

namespace accord::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// Connections open at once by default (each can hold a request's headers and a small body in
// memory), within half the open-file limit.
constexpr size_t kDefaultMaxConnections = 16384;

// The origin form ("/path?query") of a request target: the absolute form ("http://host/path",
// RFC 9112 section 3.2.2) names the same resource.
std::string_view OriginForm(std::string_view target) {
  for (std::string_view scheme : {"http://", "https://"})
    if (target.size() > scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme)) {
      size_t slash = target.find('/', scheme.size());
      return slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
    }
  return target;
}

// The percent-decoded path of a request target, "" if it does not decode.
std::string PathOf(std::string_view target) {
  target = OriginForm(target);
  std::optional<std::string> path =
      PercentDecode(target.substr(0, target.find('?')), /*plus_is_space=*/false);
  return path ? std::move(path).value() : std::string();
}

}  // namespace

Reply Service::Error(int status, std::string_view message, std::string_view /*path*/) {
  Reply r;
  r.status = status;
  r.content_type = "text/plain; charset=utf-8";
  r.body = std::string(message) + "\n";
  return r;
}

struct Server::Impl {
  Service& service;
  Options options;
  int port = 0;
  size_t max_connections = 0;  // as Start sized it
  std::atomic<bool> stop_requested{false}, started{false};
  std::array<std::atomic<uint64_t>, 600> answered{};
  std::atomic<uint64_t> connections{0}, refused_connections{0};
  // Requests taken by Service::Serve and not answered yet: their answers post to `io`, which must
  // outlive them (Run waits for them once the I/O threads are stopped).
  std::atomic<uint64_t> responding{0};
  // Bytes of large bodies being read or waiting to be answered (BodyPolicy::large).
  std::atomic<uint64_t> large_bodies{0};
  std::atomic<uint64_t> refusing{0};  // connections over max_connections being answered 503
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

  Impl(Service& s, Options o) : service(s), options(std::move(o)) {}
  ~Impl() {
    if (handlers) handlers->join();
    for (int fd : stop_pipe)
      if (fd >= 0) ::close(fd);
  }

  void Count(int status) { answered[status >= 100 && status < 600 ? status : 0]++; }
  // Service::Handle, with an exception answered 500.
  Reply Handle(const Request& req) {
    try {
      return service.Handle(req);
    } catch (const std::exception&) {
      return service.Error(500, "internal error", req.path);
    }
  }
  void Accept();
  void AcceptLater();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  std::atomic<bool> accept_lost{false};  // neither an accept nor its retry could be armed
};

namespace {

// A request's answer to come (Respond): given once, by the first call of any copy of the
// Respond; one never given (every copy dropped) is answered 500. The server's `responding`
// counts those not given yet.
class Pending {
 public:
  Pending(Server::Impl& server, std::function<void(Reply)> post) : server_(server), post_(std::move(post)) {
    server_.responding++;
  }
  ~Pending() {
    if (given_.load()) return;
    try {
      Give(server_.service.Error(500, "the request was dropped without an answer", {}));
    } catch (const std::exception&) {  // out of memory for the answer: the connection is dropped
      Give(std::nullopt);
    }
  }
  // The answer, or none: the connection is then dropped unanswered (as when the answer cannot be
  // queued, out of memory). Does not throw.
  void Give(std::optional<Reply> reply) noexcept {
    if (given_.exchange(true)) return;
    try {
      if (reply) post_(std::move(*reply));
    } catch (const std::exception&) {
    }
    // Nothing of the connection is left here once `responding` drops: Run may then destroy the
    // I/O context, and with it the connection's answer still queued there.
    post_ = nullptr;
    server_.responding--;
  }

 private:
  Server::Impl& server_;
  std::function<void(Reply)> post_;  // posts the answer to the connection, which it holds
  std::atomic<bool> given_{false};
};

// One connection: reads a request whole (within the deadlines and caps), has it answered, writes
// the answer, and goes on while the connection is kept alive. One request at a time: the next is
// not read before the answer is written, so a connection holds at most one request and one answer.
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
 public:
  // `refuse`: a connection over max_connections, answered 503 and closed.
  Session(Server::Impl& server, Stream stream, bool refuse)
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
    Reply busy = server_.service.Error(503, "too many connections; try again later", {});
    busy.headers.emplace_back("Retry-After", "1");
    Answer(std::move(busy), false, false);
  }

  void Read() {
    parser_.emplace();
    parser_->header_limit(uint32_t(std::min<size_t>(server_.options.max_header_bytes, UINT32_MAX)));
    // No limit on the Content-Length while the headers are read (Beast's default would refuse
    // one over 1 MiB there): OnHeader asks the service for this request's limit and applies it.
    parser_->body_limit(boost::none);
    limit_ = 0;
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
    BodyPolicy body;
    try {
      body = server_.service.Body(h.method_string(), OriginForm(h.target()),
                                  std::string_view(h[bhttp::field::content_type]));
    } catch (const std::exception&) {
      StopDeadline();
      return Answer(server_.service.Error(500, "internal error", PathOf(h.target())), false, false);
    }
    limit_ = body.limit;
    const auto length = parser_->content_length();
    if (length && *length > limit_) return Failed(bhttp::error::body_limit);
    parser_->body_limit(limit_);
    if (body.large && !parser_->is_done()) {
      reserved_ = length ? *length : limit_;
      if (server_.large_bodies.fetch_add(reserved_) + reserved_ > server_.options.max_large_bodies) {
        Release();
        StopDeadline();
        Reply busy = server_.service.Error(503, "too many large requests in memory; try again later",
                                           PathOf(h.target()));
        busy.headers.emplace_back("Retry-After", "1");
        return Answer(std::move(busy), false, false);
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
  void Failed(beast::error_code ec) {
    StopDeadline();
    Service& s = server_.service;
    const std::string target = parser_ && parser_->is_header_done() ? PathOf(parser_->get().target()) : "";
    if (timed_out_ || ec == beast::error::timeout) {
      // Idle past the keep-alive timeout (nothing of a request yet): closed without a word.
      if (buffer_.size() == 0 && !parser_->got_some()) return Close();
      return Answer(
          s.Error(408,
                  "the request did not arrive whole within " + std::to_string(deadline_seconds_) + " seconds",
                  target),
          false, false);
    }
    if (ec == bhttp::error::header_limit)
      return Answer(s.Error(431,
                            "the request line and headers are over the limit of " +
                                std::to_string(server_.options.max_header_bytes) + " bytes",
                            target),
                    false, false);
    if (ec == bhttp::error::body_limit)
      return Answer(
          s.Error(413, "the body is over the limit of " + std::to_string(limit_) + " bytes for this request",
                  target),
          false, false);
    if (ec.category() == beast::error_code(bhttp::error::bad_target).category() &&
        ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message)
      return Answer(s.Error(400, "malformed HTTP request: " + ec.message(), target), false, false);
    Close();  // closed by the client, reset, a TLS failure
  }

  void Dispatch() {
    auto& m = parser_->get();
    Request req;
    req.method = std::string(m.method_string());
    std::string_view target = OriginForm(m.target());
    size_t q = target.find('?');
    auto path = PercentDecode(target.substr(0, q), /*plus_is_space=*/false);
    if (!path || path->empty() || path->front() != '/')
      return Answer(server_.service.Error(400,
                                          "the request target is not a path (\"/...\") with valid "
                                          "percent escapes",
                                          {}),
                    false, false);
    req.path = std::move(path).value();
    if (q != std::string_view::npos) req.query = std::string(target.substr(q + 1));
    req.accept = std::string(m[bhttp::field::accept]);
    req.content_type = std::string(m[bhttp::field::content_type]);
    req.authorization = std::string(m[bhttp::field::authorization]);
    req.body = std::move(m.body());
    const bool keep = m.keep_alive() && served_ + 1 < server_.options.keep_alive_max;
    const bool head = m.method() == bhttp::verb::head;
    auto pending =
        std::make_shared<Pending>(server_, [self = this->shared_from_this(), keep, head](Reply reply) {
          auto ex = self->stream_.get_executor();
          asio::post(ex, [self, reply = std::move(reply), keep, head]() mutable {
            self->Answer(std::move(reply), keep, head);
          });
        });
    Respond respond = [pending](Reply reply) { pending->Give(std::move(reply)); };
    try {
      if (server_.service.Serve(req, respond)) return;
    } catch (const std::exception&) {
      return respond(server_.service.Error(500, "internal error", req.path));
    }
    asio::post(*server_.handlers, [respond = std::move(respond), req = std::move(req), &server = server_] {
      try {
        respond(server.Handle(req));
      } catch (const std::exception&) {  // not even the 500 (out of memory): Pending drops it
      }
    });
  }

  void Answer(Reply reply, bool keep, bool head) {
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

  Server::Impl& server_;
  Stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::optional<bhttp::response<bhttp::string_body>> res_;
  asio::steady_timer deadline_;
  uint64_t deadline_generation_ = 0;
  int deadline_seconds_ = 0;
  unsigned version_ = 11;  // of the request being answered: 11 for HTTP/1.1 (or later), 10 for HTTP/1.0
  uint64_t limit_ = 0;     // of the body being read
  uint64_t reserved_ = 0;  // of Server::Impl::large_bodies
  const bool refuse_;
  bool timed_out_ = false;
  size_t served_ = 0;
  std::unique_ptr<std::array<char, 16384>> drain_;
};

}  // namespace

// An accept is always pending or about to be: if arming one fails (out of memory), a timer tries
// again; if that fails too, accept_lost is set and the exception leaves the handler, and the I/O
// thread it reaches (Server::Run) arms the timer until it can.
void Server::Impl::Accept() {
  try {
    acceptor->async_accept(asio::make_strand(io), [this](beast::error_code ec, tcp::socket socket) {
      OnAccept(ec, std::move(socket));
    });
  } catch (const std::exception&) {
    AcceptLater();
  }
}

void Server::Impl::AcceptLater() {
  try {
    accept_pause->expires_after(std::chrono::milliseconds(50));
    accept_pause->async_wait([this](beast::error_code e) {
      if (!e && !stop_requested) Accept();
    });
  } catch (const std::exception&) {
    accept_lost = true;
    throw;
  }
}

void Server::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == asio::error::operation_aborted || stop_requested) return;
  if (ec) {
    // Out of descriptors (EMFILE, ENFILE) or buffers: the connection waits in the listen queue
    // until some are closed; try again shortly rather than spin.
    return AcceptLater();
  }
  try {
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
  } catch (const std::exception&) {  // out of memory for the session: this one is closed
  }
  Accept();
}

Server::Server(Service& service, Options options)
    : impl_(std::make_unique<Impl>(service, std::move(options))) {}
Server::~Server() {
  Stop();
}

Status Server::Start() {
  Impl& s = *impl_;
  const Options& o = s.options;
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

int Server::port() const {
  return impl_->port;
}

Status Server::Run() {
  Impl& s = *impl_;
  if (!s.started) return FailedPrecondition("Start first");
  // Every I/O thread returns; the acceptor, its timer and the connections are closed when the
  // server is destroyed.
  s.stop_reader->async_read_some(asio::buffer(&s.stop_byte, 1),
                                 [&s](beast::error_code, size_t) { s.io.stop(); });
  if (!s.stop_requested) {
    s.Accept();
    // An exception out of a handler (out of memory while reading or answering a connection) ends
    // only that handler: its connection is dropped with it, and run goes on with the others.
    auto run = [&s] {
      while (true) {
        try {
          s.io.run();
          return;
        } catch (const std::exception&) {
          while (s.accept_lost.exchange(false) && !s.stop_requested) {
            try {
              s.AcceptLater();
            } catch (const std::exception&) {
              std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
          }
        }
      }
    };
    std::vector<std::thread> more;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    for (unsigned i = 1; i < cores; ++i) more.emplace_back(run);
    run();
    for (auto& t : more) t.join();
  }
  // Requests being handled, and those Service::Serve took, finish (their answers are dropped with
  // the connections).
  s.handlers->join();
  while (s.responding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return Status::Ok();
}

// Nothing here waits, locks or allocates: `accord serve` calls it from a signal handler.
void Server::Stop() {
  Impl& s = *impl_;
  s.stop_requested = true;
  if (s.stop_pipe[1] >= 0) {
    char b = 1;
    [[maybe_unused]] ssize_t n = ::write(s.stop_pipe[1], &b, 1);
  }
}

Stats Server::stats() const {
  const Impl& s = *impl_;
  Stats st;
  for (size_t i = 0; i < s.answered.size(); ++i) st.answered[i] = s.answered[i].load();
  st.connections = s.connections.load();
  st.max_connections = s.max_connections;
  st.refused_connections = s.refused_connections.load();
  st.threads = s.options.threads;
  return st;
}

}  // namespace accord::http

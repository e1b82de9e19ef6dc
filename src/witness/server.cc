#include "witness/server.h"

#include <httplib.h>

#include <atomic>
#include <thread>

#include "core/limits.h"

namespace accord::witness {

struct Server::Impl {
  Witness& witness;
  ServerOptions options;
  httplib::Server server;
  int port = 0;
  std::atomic<bool> stop_requested{false}, run_entered{false}, run_returned{false};

  Impl(Witness& w, ServerOptions o) : witness(w), options(std::move(o)) {}
};

Server::Server(Witness& witness, ServerOptions options)
    : impl_(std::make_unique<Impl>(witness, std::move(options))) {}

Server::~Server() {
  Stop();
}

Status Server::Start() {
  httplib::Server& s = impl_->server;
  const ServerOptions& o = impl_->options;
  size_t threads = o.threads;
  s.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  s.set_read_timeout(o.read_timeout_s, 0);
  s.set_write_timeout(o.write_timeout_s, 0);
  s.set_keep_alive_timeout(o.keep_alive_timeout_s);
  s.set_payload_max_length(limits::kMaxWitnessRequestSize);
  Witness& w = impl_->witness;
  s.Post("/add-checkpoint", [&w](const httplib::Request& req, httplib::Response& res) {
    Response r = w.AddCheckpoint(req.body);
    res.status = r.status;
    res.set_content(r.body, r.content_type);
  });
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    std::string m = res.status == 404   ? "not found: a witness serves POST /add-checkpoint only"
                    : res.status == 413 ? "the body is over the limit of " +
                                              std::to_string(limits::kMaxWitnessRequestSize) + " bytes"
                                        : "request refused";
    res.set_content(m + "\n", std::string(kTextContentType));
  });
  s.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    res.status = 500;
    res.set_content("internal error\n", std::string(kTextContentType));
  });
  int port = o.port == 0 ? s.bind_to_any_port(o.host) : s.bind_to_port(o.host, o.port) ? o.port : -1;
  if (port <= 0) return FailedPrecondition("cannot listen on " + o.host + ":" + std::to_string(o.port));
  impl_->port = port;
  return Status::Ok();
}

int Server::port() const {
  return impl_->port;
}

Status Server::Run() {
  impl_->run_entered = true;
  bool ok = impl_->stop_requested || impl_->server.listen_after_bind();
  impl_->run_returned = true;
  if (!ok && !impl_->stop_requested) return Internal("the witness's HTTP server stopped with an error");
  return Status::Ok();
}

void Server::Stop() {
  impl_->stop_requested = true;
  // httplib's stop() does nothing before the accept loop runs: a Run that has begun waits for it.
  while (impl_->run_entered && !impl_->run_returned && !impl_->server.is_running())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  impl_->server.stop();
}

}  // namespace accord::witness

#include "cli/scand_commands.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <tuple>
#include <vector>

#include "cli/limit_options.h"
#include "cli/process.h"
#include "scan/load.h"
#include "scand/server.h"

extern char** environ;

namespace accord::cli {
namespace {

struct ScandArgs {
  scan::SignatureFiles files;
  std::string socket, tcp;
  int threads = 0;
  double command_timeout = 30, read_timeout = 120, send_timeout = 30, watch_interval = 2;
  bool no_verify = false, quiet = false;
  scand::ServerLimits limits;
  scan::ContainerLimits scan_limits;  // from scan_limit_texts, in RunScand
  LimitOptionTexts scan_limit_texts;  // --max-filesize ... as clamd reads them (cli/limit_options.h)
  std::optional<std::string> max_stream_size,
      max_stream_memory;  // sizes as --max-filesize's, 0 not "no limit"
};

std::atomic<scand::Server*> g_server{nullptr};  // for the signal handlers

void OnStopSignal(int) {
  if (scand::Server* s = g_server.load()) s->StopFromSignal();
}
void OnReloadSignal(int) {
  if (scand::Server* s = g_server.load()) s->RequestReloadFromSignal();
}

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(int64_t(seconds * 1000));
}

// `accord db verify PATH` in a child process: reading a whole database (hundreds of MB) to check its
// SHA-256 then costs the daemon no resident memory, and a reload stays as small as the new mapping.
Status VerifyInChild(const std::string& path) {
  std::string self = "/proc/self/exe";
  char* argv[] = {self.data(), const_cast<char*>("db"), const_cast<char*>("verify"),
                  const_cast<char*>(path.c_str()), nullptr};
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, self.c_str(), &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return Internal("cannot run `accord db verify`: " + std::string(std::strerror(rc)));
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return DataLoss(path + ": `accord db verify` failed (its message is above); not loaded");
  return Status::Ok();
}

// Which file a path names now: a database replaced between its verification and its loading
// must not be loaded unverified.
std::string Identity(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return "";
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino) + ":" + std::to_string(st.st_size) +
         ":" + std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
}

Result<scand::LoadedEngine> Load(const ScandArgs& a) {
  std::vector<std::string> before;
  for (const auto& db : a.files.databases) before.push_back(Identity(db));
  if (!a.no_verify)
    for (const auto& db : a.files.databases) RETURN_IF_ERROR(VerifyInChild(db));
  ASSIGN_OR_RETURN(scan::LoadedSignatures sigs, scan::LoadSignatures(a.files));
  for (size_t i = 0; i < a.files.databases.size(); ++i)
    if (Identity(a.files.databases[i]) != before[i])
      return Unavailable(a.files.databases[i] + ": replaced while it was being loaded; loading it again");
  scan::ContainerLimits limits = a.scan_limits;
  // No member memo: a daemon's engine serves every client for as long as it runs, and a reply
  // answered from another client's member would tell, by its speed, what that client scanned.
  scan::ScanOptions options{limits};
  options.share_member_scans = false;
  auto engine =
      std::make_shared<const scan::Engine>(std::move(sigs.databases), std::move(sigs.rules), options);
  time_t newest = 0;
  for (const auto* list : {&a.files.databases, &a.files.hash_files, &a.files.tlsh_files, &a.files.yara})
    for (const auto& p : *list) {
      struct stat st;
      if (::stat(p.c_str(), &st) == 0) newest = std::max(newest, st.st_mtime);
    }
  char date[64] = "";
  std::strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", std::localtime(&newest));
  scand::LoadedEngine out;
  out.version = std::to_string(engine->signature_count()) + "/" + date;
  out.engine = std::move(engine);
  return out;
}

int RunScand(ScandArgs& a) {
  {  // the limits as clamd reads them, checked before anything starts
    std::vector<std::string> warnings;
    auto limits = ApplyLimitOptions(a.scan_limit_texts, a.scan_limits, warnings);
    Status bad = limits.status();
    // A stream size, read as --max-filesize's (0 is not "no limit" here); the first error wins.
    auto stream_size = [&](const std::optional<std::string>& text, const char* name, uint64_t* field) {
      if (!text || !bad.ok()) return;
      auto v = ParseLimitSize(name, *text, warnings);
      if (v.ok())
        *field = *v;
      else
        bad = v.status();
    };
    stream_size(a.max_stream_size, "--max-stream-size", &a.limits.max_stream_size);
    stream_size(a.max_stream_memory, "--max-stream-memory", &a.limits.max_stream_memory);
    if (!bad.ok()) {
      std::fprintf(stderr, "accord: %s\n", bad.ToString().c_str());
      return 2;
    }
    for (const std::string& w : warnings) std::fprintf(stderr, "accord: warning: %s\n", w.c_str());
    a.scan_limits = *limits;
  }
  scand::ServerOptions o;
  o.unix_socket = a.socket;
  o.tcp = a.tcp;
  if (o.unix_socket.empty() && o.tcp.empty()) o.tcp = "127.0.0.1:3310";
  if (!o.tcp.empty() && o.tcp.find(':') == std::string::npos) o.tcp = "127.0.0.1:" + o.tcp;
  o.threads = a.threads;
  o.limits = a.limits;
  o.limits.command_timeout = Ms(a.command_timeout);
  o.limits.read_timeout = Ms(a.read_timeout);
  o.limits.send_timeout = Ms(a.send_timeout);
  o.watch_interval = Ms(a.watch_interval);
  o.log = !a.quiet;
  for (const auto* list : {&a.files.databases, &a.files.hash_files, &a.files.tlsh_files})
    o.watch.insert(o.watch.end(), list->begin(), list->end());

  // Thousands of clients need thousands of descriptors.
  RaiseOpenFileLimit();
  auto server = scand::Server::Create(std::move(o), [&a] { return Load(a); });
  if (!server.ok()) {
    std::fprintf(stderr, "accord: %s\n", server.status().ToString().c_str());
    return 2;
  }
  g_server = server->get();
  struct sigaction sa {};
  sa.sa_handler = OnStopSignal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  sa.sa_handler = OnReloadSignal;
  ::sigaction(SIGUSR2, &sa, nullptr);
  ::sigaction(SIGHUP, &sa, nullptr);
  ::signal(SIGPIPE, SIG_IGN);
  Status s = (*server)->Run();
  g_server = nullptr;
  if (!s.ok()) {
    std::fprintf(stderr, "accord: %s\n", s.ToString().c_str());
    return 2;
  }
  return 0;
}

}  // namespace

void AddScandCommand(CLI::App& app, int& rc) {
  static ScandArgs a;
  auto* sd = app.add_subcommand(
      "scand", "a scanning daemon that speaks clamd's protocol (clamdscan, pyclamd, mail filters)");
  sd->add_option("-d,--database", a.files.databases, "a database from `accord db build` (repeatable)")
      ->allow_extra_args(false);
  sd->add_option("--hashes", a.files.hash_files, "a ClamAV hash file (repeatable)")->allow_extra_args(false);
  sd->add_option("--yara", a.files.yara, "YARA rule file or directory (repeatable)")->allow_extra_args(false);
  sd->add_option("--tlsh", a.files.tlsh_files, "a TLSH signature file (repeatable)")->allow_extra_args(false);
  sd->add_option("--socket", a.socket, "listen on this unix socket (clamd's LocalSocket; FILDES works here)");
  sd->add_option("--tcp", a.tcp,
                 "listen on HOST:PORT, or PORT on 127.0.0.1 (default 127.0.0.1:3310 when no --socket)");
  sd->add_option("-j,--threads", a.threads, "scanning threads (default: the number of cores)");
  sd->add_option("--max-connections", a.limits.max_connections, "connections open at once")
      ->capture_default_str();
  sd->add_option_function<std::string>(
      "--max-stream-size", [](const std::string& v) { a.max_stream_size = v; },
      "bytes per INSTREAM, or with K, M, G (StreamMaxLength; default 25M)");
  sd->add_option_function<std::string>(
      "--max-stream-memory", [](const std::string& v) { a.max_stream_memory = v; },
      "bytes of all streams held at once, or with K, M, G; past it, streaming clients wait (default 1G)");
  sd->add_option("--max-reply-bytes", a.limits.max_reply_bytes,
                 "reply bytes buffered for a client that does not read them")
      ->capture_default_str();
  sd->add_option("--max-queue", a.limits.max_queue,
                 "requests queued or being scanned, all clients together (MaxQueue)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sd->add_option("--max-pending", a.limits.max_pending_requests, "unanswered requests per session")
      ->capture_default_str();
  sd->add_option("--command-timeout", a.command_timeout, "seconds to send a first command")
      ->capture_default_str();
  sd->add_option("--read-timeout", a.read_timeout, "seconds between stream chunks or session commands")
      ->capture_default_str();
  sd->add_option("--send-timeout", a.send_timeout, "seconds a client may leave its replies unread")
      ->capture_default_str();
  sd->add_option("--watch-interval", a.watch_interval,
                 "seconds between checks for a replaced database file (0: reload only on RELOAD/SIGUSR2)")
      ->capture_default_str();
  sd->add_flag("--no-verify", a.no_verify, "load databases without `accord db verify` first");
  sd->add_flag("-q,--quiet", a.quiet, "no log lines on standard error");
  AddLimitOptions(*sd, a.scan_limit_texts);
  sd->callback([&] { rc = RunScand(a); });
}

}  // namespace accord::cli

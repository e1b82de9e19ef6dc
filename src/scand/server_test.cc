// The daemon in-process on a unix socket in a temporary directory, driven by raw clients: what a
// mail server or clamdscan would see (tests/scand_test.sh runs the real clients).
#include "scand/server.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <thread>

#include "core/fs.h"
#include "crypto/sha256.h"
#include "scan/load.h"

namespace accord::scand {
namespace {

using namespace std::chrono_literals;

const std::string kBad = "this content is what the test signature detects\n";
const std::string kWorse = "a second sample, detected only after a reload\n";

std::string Sig(const std::string& content, const std::string& name) {
  return HexEncode(crypto::AsView(crypto::Sha256(content))) + ":" + std::to_string(content.size()) + ":" +
         name + "\n";
}

std::string Chunked(std::string_view data, size_t chunk = 1000) {
  std::string out;
  for (size_t i = 0; i < data.size(); i += chunk) {
    std::string_view piece = data.substr(i, chunk);
    PutU32(out, uint32_t(piece.size()));
    out.append(piece);
  }
  PutU32(out, 0);
  return out;
}

class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(size_t(n));
    }
    return true;
  }
  // Everything until the daemon closes the connection (or `timeout` passes).
  std::string ReadAll(std::chrono::milliseconds timeout = 10s) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + timeout;
    char buf[65536];
    while (std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      out.append(buf, size_t(n));
    }
    return out;
  }
  // Replies until `count` delimiters arrived.
  std::string ReadReplies(int count, char term, std::chrono::milliseconds timeout = 10s) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + timeout;
    char c;
    while (count > 0 && std::chrono::steady_clock::now() < end) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (::recv(fd_, &c, 1, 0) != 1) break;
      out.push_back(c);
      if (c == term) --count;
    }
    return out;
  }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool connected_ = false, eof_ = false;
};

std::string Z(std::string_view s) {
  return std::string(s) + '\0';
}

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/accord-scand-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    socket_ = dir_ + "/scand.sock";
    db_ = dir_ + "/sigs.accdb";
    BuildDb(Sig(kBad, "Test.Bad.One"));
    struct rlimit rl;
    if (::getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      rl.rlim_cur = rl.rlim_max;
      ::setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  void TearDown() override {
    if (server_) {
      server_->Stop();
      thread_.join();
    }
    (void)fs::RemoveTree(dir_);
  }

  void BuildDb(const std::string& hsb) {
    std::string hsb_path = dir_ + "/sigs.hsb";
    ASSERT_TRUE(fs::WriteFileAtomic(hsb_path, hsb).ok());
    scan::DatabaseBuilder b;
    ASSERT_TRUE(scan::AddHashFile(b, hsb_path).ok());
    ASSERT_TRUE(b.Write(db_).ok());  // rename-replace, as `accord db build` does
  }

  EngineLoader Loader() const {
    return [db = db_]() -> Result<LoadedEngine> {
      scan::SignatureFiles files;
      files.databases = {db};
      ASSIGN_OR_RETURN(scan::LoadedSignatures sigs, scan::LoadSignatures(files));
      LoadedEngine out;
      out.engine = std::make_shared<const scan::Engine>(sigs.databases, sigs.rules, scan::ScanOptions{});
      out.version = std::to_string(out.engine->signature_count()) + "/test";
      return out;
    };
  }

  void Start(ServerLimits limits = {}, std::chrono::milliseconds watch = 0ms) {
    ServerOptions o;
    o.unix_socket = socket_;
    o.threads = 2;
    o.limits = limits;
    o.watch = {db_};
    o.watch_interval = watch;
    o.log = false;
    auto s = Server::Create(o, Loader());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server_ = std::move(s).value();
    thread_ = std::thread([this] { EXPECT_TRUE(server_->Run().ok()); });
  }

  std::string Ask(std::string_view bytes) {
    Client c(socket_);
    EXPECT_TRUE(c.connected());
    c.Send(bytes);
    return c.ReadAll();
  }

  std::string dir_, socket_, db_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

TEST_F(ServerTest, PingAndVersion) {
  Start();
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));
  EXPECT_EQ(Ask("nPING\n"), "PONG\n");
  EXPECT_EQ(Ask("PING"), "PONG\n");  // old style, one read
  EXPECT_EQ(Ask("nVERSION\n"), "accord 0.1.0/1/test\n");
  std::string vc = Ask("nVERSIONCOMMANDS\n");
  EXPECT_EQ(vc.rfind("accord 0.1.0/1/test| COMMANDS: ", 0), 0u) << vc;
  std::string stats = Ask(Z("zSTATS"));
  EXPECT_EQ(stats.rfind("POOLS: 1\n", 0), 0u) << stats;
  EXPECT_EQ(stats.substr(stats.size() - 4), Z("END"));
}

TEST_F(ServerTest, InstreamCleanAndInfected) {
  Start();
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked("nothing to see here")), Z("stream: OK"));
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kBad, 7)), Z("stream: Test.Bad.One FOUND"));
  EXPECT_EQ(Ask("nINSTREAM\n" + Chunked(kBad)), "stream: Test.Bad.One FOUND\n");
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked("")), Z("stream: OK"));
}

TEST_F(ServerTest, HalfClosedClientStillGetsItsReply) {
  Start();
  Client c(socket_);
  c.Send(Z("zINSTREAM") + Chunked(kBad));
  ::shutdown(c.fd(), SHUT_WR);
  EXPECT_EQ(c.ReadAll(), Z("stream: Test.Bad.One FOUND"));
  EXPECT_TRUE(c.eof());
}

TEST_F(ServerTest, StreamOverTheLimit) {
  ServerLimits l;
  l.max_stream_size = 1000;
  Start(l);
  std::string big(1500, 'x');
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(big, 600)), Z("INSTREAM size limit exceeded. ERROR"));
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(std::string(1000, 'y'), 500)), Z("stream: OK"));
  // The length is checked before the chunk's bytes come.
  std::string header = Z("zINSTREAM");
  PutU32(header, 0xFFFFFFFFu);
  EXPECT_EQ(Ask(header), Z("INSTREAM size limit exceeded. ERROR"));
}

TEST_F(ServerTest, UnknownAndMalformedCommands) {
  Start();
  EXPECT_EQ(Ask("nFROBNICATE\n"), "UNKNOWN COMMAND\n");
  EXPECT_EQ(Ask(Z("zSCAN")), Z("UNKNOWN COMMAND"));
  EXPECT_EQ(Ask("INSTREAM\n"), "UNKNOWN COMMAND\n");  // needs a prefix
  EXPECT_EQ(Ask(Z("zEND")), Z("UNKNOWN COMMAND"));
  EXPECT_EQ(Ask("n" + std::string(10000, 'A')), "COMMAND TOO LONG. ERROR\n");
  EXPECT_EQ(Ask(std::string("\xff\x00\x01garbage\n", 11)), "UNKNOWN COMMAND\n");
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));  // and it still serves
}

TEST_F(ServerTest, IdSessionAnswersEachRequestByNumber) {
  Start();
  Client c(socket_);
  ASSERT_TRUE(c.connected());
  c.Send(Z("zIDSESSION") + Z("zPING") + Z("zINSTREAM") + Chunked(kBad) + Z("zVERSION") + Z("zINSTREAM") +
         Chunked("clean") + "nPING\n" + Z("zEND"));
  std::string all = c.ReadAll();
  EXPECT_TRUE(c.eof());
  std::vector<std::string> replies;
  size_t start = 0;
  for (size_t i = 0; i < all.size(); ++i)
    if (all[i] == '\0' || all[i] == '\n') replies.push_back(all.substr(start, i + 1 - start)), start = i + 1;
  std::sort(replies.begin(), replies.end());
  EXPECT_EQ(replies, (std::vector<std::string>{Z("1: PONG"), Z("2: stream: Test.Bad.One FOUND"),
                                               Z("3: accord 0.1.0/1/test"), Z("4: stream: OK"), "5: PONG\n"}))
      << all;
}

TEST_F(ServerTest, SessionRefusesWhatClamdRefuses) {
  Start();
  EXPECT_EQ(Ask(Z("zIDSESSION") + Z("zPING") + Z("zCONTSCAN /tmp")),
            Z("1: PONG") + Z("2: Command invalid inside IDSESSION. ERROR"));
  EXPECT_EQ(
      Ask(Z("zIDSESSION") + "PING\n"),
      "1: Only new-line terminated nCMDS or NULL-terminated zCMDS are accepted inside IDSESSION. ERROR\n");
}

TEST_F(ServerTest, IdleClientsTimeOut) {
  ServerLimits l;
  l.command_timeout = 300ms;
  l.read_timeout = 600ms;
  Start(l);
  auto t0 = std::chrono::steady_clock::now();
  Client idle(socket_);
  EXPECT_EQ(idle.ReadAll(), "COMMAND READ TIMED OUT\n");
  EXPECT_TRUE(idle.eof());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  // A stream that stops halfway, and a session that goes quiet.
  Client stalled(socket_);
  stalled.Send(Z("zINSTREAM") + Chunked(kBad).substr(0, 10));
  EXPECT_EQ(stalled.ReadAll(), "COMMAND READ TIMED OUT\n");
  Client quiet(socket_);
  quiet.Send(Z("zIDSESSION") + Z("zPING"));
  EXPECT_EQ(quiet.ReadAll(), Z("1: PONG") + "COMMAND READ TIMED OUT\n");
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));
}

// Sends FILDES with `file` over `c` (SCM_RIGHTS, as clamdscan --fdpass does).
void SendFildes(Client& c, int file) {
  c.Send(Z("zFILDES"));
  char dummy = 0;
  iovec iov{&dummy, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&msg);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(cm), &file, sizeof file);
  ASSERT_EQ(::sendmsg(c.fd(), &msg, 0), 1);
}

TEST_F(ServerTest, FildesScansAPassedDescriptor) {
  Start();
  std::string path = dir_ + "/bad.bin";
  ASSERT_TRUE(fs::WriteFileAtomic(path, kBad).ok());
  int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(file, 0);
  Client c(socket_);
  SendFildes(c, file);
  ::close(file);
  std::string reply = c.ReadAll();
  EXPECT_EQ(reply.rfind("fd[", 0), 0u) << reply;
  EXPECT_NE(reply.find("]: Test.Bad.One FOUND"), std::string::npos) << reply;
  EXPECT_EQ(Ask(Z("zFILDES") + std::string(1, '\0')), Z("No file descriptor received. ERROR"));
}

// FILDES exists for files the client can read and the daemon cannot open (clamdscan --fdpass): the
// daemon must read the descriptor it was given, not open the file again with its own rights. The
// daemon runs as nobody in a child process; the file is root's alone.
TEST_F(ServerTest, FildesReadsTheDescriptorNotThePath) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root, to run the daemon as another user";
  std::string sock_dir = dir_ + "/sock", private_dir = dir_ + "/private", path = private_dir + "/bad.bin";
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(::chmod(db_.c_str(), 0644), 0);
  ASSERT_TRUE(fs::MakeDirs(sock_dir).ok());
  ASSERT_EQ(::chmod(sock_dir.c_str(), 0777), 0);
  ASSERT_TRUE(fs::MakeDirs(private_dir).ok());
  ASSERT_EQ(::chmod(private_dir.c_str(), 0700), 0);
  ASSERT_TRUE(fs::WriteFileAtomic(path, kBad, 0600).ok());
  std::string sock = sock_dir + "/scand.sock";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {  // the daemon, as nobody; no gtest assertions here
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(3);
    ServerOptions o;
    o.unix_socket = sock;
    o.threads = 1;
    o.log = false;
    auto s = Server::Create(o, Loader());
    if (!s.ok()) ::_exit(4);
    ::_exit((*s)->Run().ok() ? 0 : 5);
  }
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    Client probe(sock);
    up = probe.connected();
    if (!up) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(up);
  if (up) {
    {  // the daemon itself cannot open the file...
      Client c(sock);
      c.Send(Z("zSCAN " + path));
      std::string reply = c.ReadAll();
      EXPECT_NE(reply.find("Permission denied"), std::string::npos) << reply;
    }
    int file = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(file, 0);
    Client c(sock);
    if (file >= 0) SendFildes(c, file);  // (no ASSERT here: the child must be stopped below)
    if (file >= 0) ::close(file);
    std::string reply = c.ReadAll();  // ...and scans it through the descriptor
    EXPECT_NE(reply.find("]: Test.Bad.One FOUND"), std::string::npos) << reply;
    Client stop(sock);
    stop.Send(Z("zSHUTDOWN"));
  } else {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  for (int i = 0; i < 200 && ::waitpid(pid, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(50ms);
  if (::waitpid(pid, &status, WNOHANG) == 0) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, &status, 0);
    ADD_FAILURE() << "the daemon did not stop on SHUTDOWN";
  }
}

TEST_F(ServerTest, ScanCommandsWalkPaths) {
  Start();
  ASSERT_TRUE(fs::MakeDirs(dir_ + "/tree/sub").ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/tree/sub/bad.bin", kBad).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/tree/clean.txt", "clean").ok());
  EXPECT_EQ(Ask(Z("zCONTSCAN " + dir_ + "/tree")), Z(dir_ + "/tree/sub/bad.bin: Test.Bad.One FOUND"));
  EXPECT_EQ(Ask(Z("zMULTISCAN " + dir_ + "/tree")), Z(dir_ + "/tree/sub/bad.bin: Test.Bad.One FOUND"));
  EXPECT_EQ(Ask("SCAN " + dir_ + "/tree/clean.txt\n"), dir_ + "/tree/clean.txt: OK\n");
  EXPECT_EQ(Ask("nALLMATCHSCAN " + dir_ + "/tree/sub\n"), dir_ + "/tree/sub/bad.bin: Test.Bad.One FOUND\n");
  std::string missing = Ask(Z("zSCAN " + dir_ + "/nope"));
  EXPECT_EQ(missing.rfind(dir_ + "/nope: ", 0), 0u) << missing;
  EXPECT_NE(missing.find(" ERROR"), std::string::npos) << missing;
  // An empty directory is answered (clamd: OK), in a session too, where a missing answer would
  // leave the client waiting for its number.
  ASSERT_TRUE(fs::MakeDirs(dir_ + "/empty").ok());
  EXPECT_EQ(Ask(Z("zSCAN " + dir_ + "/empty")), Z(dir_ + "/empty: OK"));
  EXPECT_EQ(Ask(Z("zIDSESSION") + Z("zSCAN " + dir_ + "/empty") + Z("zEND")), Z("1: " + dir_ + "/empty: OK"));
  // A path must be absolute (clamd); the daemon's working directory is no business of a client's.
  EXPECT_EQ(Ask(Z("zSCAN tree/clean.txt")), Z("tree/clean.txt: full path required ERROR"));
}

// A reply longer than max_reply_bytes (CONTSCAN of a tree with many detections) reaches a client
// that reads it: it goes out in pieces as the walk goes, and only what waits unread counts.
TEST_F(ServerTest, AReplyLongerThanTheReplyLimitReachesAClientThatReads) {
  ServerLimits l;
  l.max_reply_bytes = 2048;
  Start(l);
  ASSERT_TRUE(fs::MakeDirs(dir_ + "/many").ok());
  for (int i = 0; i < 300; ++i)
    ASSERT_TRUE(fs::WriteFileAtomic(dir_ + "/many/sample-" + std::to_string(i) + ".bin", kBad).ok());
  std::string reply = Ask(Z("zCONTSCAN " + dir_ + "/many"));
  EXPECT_EQ(std::count(reply.begin(), reply.end(), '\0'), 300) << reply.size() << " bytes";
  EXPECT_GT(reply.size(), 5 * l.max_reply_bytes);
}

// Stream memory full of streams still arriving (nothing queued whose scan would free it): one of
// them goes on to its end, the others follow; none waits for its read timeout.
TEST_F(ServerTest, StreamsLargerThanTheStreamMemoryAreScanned) {
  std::string big(3000, 'b'), other(3000, 'o');
  BuildDb(Sig(big, "Test.Big") + Sig(other, "Test.Other"));
  ServerLimits l;
  l.max_stream_memory = 1000;
  l.max_stream_size = 8000;
  l.read_timeout = 5s;
  Start(l);
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(big, 500)), Z("stream: Test.Big FOUND"));
  // Two at once, each past the memory cap half way.
  Client a(socket_), b(socket_);
  std::string sa = Z("zINSTREAM") + Chunked(big, 500), sb = Z("zINSTREAM") + Chunked(other, 500);
  a.Send(sa.substr(0, 1500));
  b.Send(sb.substr(0, 1500));
  std::this_thread::sleep_for(100ms);
  a.Send(sa.substr(1500));
  b.Send(sb.substr(1500));
  EXPECT_EQ(a.ReadAll(4s), Z("stream: Test.Big FOUND"));
  EXPECT_EQ(b.ReadAll(4s), Z("stream: Test.Other FOUND"));
}

// The first command must be complete within command_timeout of connecting, however slowly its bytes
// come (one byte at a time would otherwise hold a connection for hours).
TEST_F(ServerTest, AClientTricklingItsFirstCommandTimesOut) {
  ServerLimits l;
  l.command_timeout = 500ms;
  Start(l);
  Client c(socket_);
  std::string reply;
  auto end = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < end && reply.empty()) {
    if (!c.Send("n")) break;  // "nnnn...": never a whole command
    reply = c.ReadAll(100ms);
  }
  EXPECT_EQ(reply, "COMMAND READ TIMED OUT\n");
}

TEST_F(ServerTest, ReloadPicksUpARebuiltDatabaseWhileAnotherClientStreams) {
  ServerLimits l;
  l.read_timeout = 20s;
  Start(l);
  Client streaming(socket_);
  std::string wire = Z("zINSTREAM") + Chunked(kBad, 5);
  ASSERT_TRUE(streaming.Send(std::string_view(wire).substr(0, wire.size() / 2)));
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kWorse)), Z("stream: OK"));

  BuildDb(Sig(kBad, "Test.Bad.One") + Sig(kWorse, "Test.Bad.Two"));
  EXPECT_EQ(Ask("nRELOAD\n"), "RELOADING\n");
  for (int i = 0; i < 200 && server_->reloads() < 1; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(server_->reloads(), 1u);
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kWorse)), Z("stream: Test.Bad.Two FOUND"));
  EXPECT_EQ(Ask("nVERSION\n"), "accord 0.1.0/2/test\n");

  // The stream that was in flight across the reload completes normally.
  ASSERT_TRUE(streaming.Send(std::string_view(wire).substr(wire.size() / 2)));
  EXPECT_EQ(streaming.ReadAll(), Z("stream: Test.Bad.One FOUND"));
}

TEST_F(ServerTest, ReloadsWhenTheDatabaseFileIsReplaced) {
  Start({}, 50ms);
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kWorse)), Z("stream: OK"));
  BuildDb(Sig(kWorse, "Test.Bad.Two"));
  for (int i = 0; i < 250 && server_->reloads() < 1; ++i) std::this_thread::sleep_for(20ms);
  ASSERT_EQ(server_->reloads(), 1u);
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kWorse)), Z("stream: Test.Bad.Two FOUND"));
  // A broken replacement is refused; the daemon keeps the signatures it has.
  ASSERT_TRUE(fs::WriteFileAtomic(db_, "not a database").ok());
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(server_->reloads(), 1u);
  EXPECT_EQ(Ask(Z("zINSTREAM") + Chunked(kWorse)), Z("stream: Test.Bad.Two FOUND"));
}

TEST_F(ServerTest, AClientThatNeverReadsIsDroppedAndOthersAreServed) {
  ServerLimits l;
  l.max_reply_bytes = 4096;
  Start(l);
  Client hog(socket_);
  ::fcntl(hog.fd(), F_SETFL, O_NONBLOCK);
  ASSERT_TRUE(hog.Send(Z("zIDSESSION")));
  std::string pings;
  for (int i = 0; i < 20000; ++i) pings += Z("zPING");
  size_t sent = 0;
  bool dropped = false;
  auto end = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < end) {
    ssize_t n = ::send(hog.fd(), pings.data() + sent % pings.size(),
                       std::min<size_t>(4096, pings.size() - sent % pings.size()), MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) {
      dropped = true;  // EPIPE or ECONNRESET: the daemon closed it
      break;
    }
    if (n > 0) sent += size_t(n);
    if (n < 0) std::this_thread::sleep_for(5ms);
    if (sent >= pings.size() * 4) break;
    EXPECT_EQ(Ask(Z("zPING")), Z("PONG")) << "the others are served while the hog hogs";
  }
  EXPECT_TRUE(dropped);
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));
}

TEST_F(ServerTest, ThousandsOfConnections) {
  struct rlimit rl;
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 4200)
    GTEST_SKIP() << "needs 4,200 file descriptors (both ends of 2,000 connections in one process)";
  ServerLimits l;
  l.max_connections = 2000;
  Start(l);
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 2000; ++i) {
    clients.push_back(std::make_unique<Client>(socket_));
    ASSERT_TRUE(clients.back()->connected()) << i;
  }
  for (int i = 0; i < 100 && server_->stats().connections < 2000; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(server_->stats().connections, 2000u);
  // One more is told why it is refused.
  EXPECT_EQ(Ask(Z("zPING")), "MAX CONNECTIONS REACHED. ERROR\n");
  // Every one of them is served.
  for (auto& c : clients) c->Send(Z("zPING"));
  for (auto& c : clients) EXPECT_EQ(c->ReadAll(), Z("PONG"));
  clients.clear();
  for (int i = 0; i < 100 && server_->stats().connections > 0; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));
}

// clamd's MaxQueue: with room for one request in flight, thirty clients that each ask for a walk
// are answered in turn, each in full; those held back do not time out (the wait is the daemon's,
// not theirs), and at no moment does more than one request run or wait in the queue.
// A directory whose CONTSCAN takes a while (200 files of 200 KB, one detection).
void MakeSlowTree(const std::string& dir) {
  ASSERT_TRUE(fs::MakeDirs(dir).ok());
  for (int i = 0; i < 200; ++i)
    ASSERT_TRUE(
        fs::WriteFileAtomic(dir + "/f" + std::to_string(i), std::string(200000, char('a' + i % 26))).ok());
  ASSERT_TRUE(fs::WriteFileAtomic(dir + "/zbad.bin", kBad).ok());
}

TEST_F(ServerTest, AFullQueueHoldsClientsBackAndAnswersThemAll) {
  MakeSlowTree(dir_ + "/many");
  ServerLimits l;
  l.max_queue = 1;
  l.command_timeout = 100ms;
  l.read_timeout = 100ms;
  Start(l);
  std::atomic<bool> done{false};
  std::atomic<size_t> most{0}, seen_running{0};
  std::thread watch([&] {
    while (!done) {
      StatsInfo st = server_->stats();
      most = std::max(most.load(), st.busy + st.queued);
      if (st.busy > 0) ++seen_running;
      std::this_thread::sleep_for(200us);
    }
  });
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 30; ++i) {
    clients.push_back(std::make_unique<Client>(socket_));
    ASSERT_TRUE(clients.back()->connected()) << i;
    clients.back()->Send(Z("zCONTSCAN " + dir_ + "/many"));
  }
  auto start = std::chrono::steady_clock::now();
  for (auto& c : clients) EXPECT_EQ(c->ReadAll(), Z(dir_ + "/many/zbad.bin: Test.Bad.One FOUND"));
  auto waited = std::chrono::steady_clock::now() - start;
  done = true;
  watch.join();
  EXPECT_LE(most.load(), 1u);
  EXPECT_GT(seen_running.load(), 0u);
  // (What makes the test mean something: the last clients waited longer than their timeouts.)
  const int waited_ms = int(std::chrono::duration_cast<std::chrono::milliseconds>(waited).count());
  RecordProperty("waited_ms", waited_ms);
  EXPECT_GT(waited_ms, 300) << "the requests were too quick to hold clients back past their timeouts";
  EXPECT_EQ(Ask(Z("zPING")), Z("PONG"));
}

// A client with many requests buffered does not take every place that frees up: a client held
// back meanwhile is served in its turn, not after all of them.
TEST_F(ServerTest, AFullQueueServesClientsInTurn) {
  MakeSlowTree(dir_ + "/many");
  ServerLimits l;
  l.max_queue = 1;
  l.max_pending_requests = 1;  // (so that the session is held back by its own cap, not the queue's)
  Start(l);
  const std::string found = dir_ + "/many/zbad.bin: Test.Bad.One FOUND";
  Client a(socket_);
  std::string asked = Z("zIDSESSION");
  for (int i = 0; i < 20; ++i) asked += Z("zSCAN " + dir_ + "/many");
  a.Send(asked);
  EXPECT_EQ(a.ReadReplies(1, '\0'), Z("1: " + found));  // its first is done: the queue is its
  Client b(socket_);
  b.Send(Z("zCONTSCAN " + dir_ + "/many"));
  EXPECT_EQ(b.ReadAll(), Z(found));
  // What `a` had answered by then (and within a moment after): not all twenty.
  std::string by_then = a.ReadAll(50ms);
  const auto answered = 1 + std::count(by_then.begin(), by_then.end(), '\0');
  EXPECT_LT(answered, 20) << "the client held back was served after every request of the other";
  a.Send(Z("zEND"));
  std::string rest = by_then + a.ReadAll();
  EXPECT_EQ(1 + std::count(rest.begin(), rest.end(), '\0'), 20);
}

TEST_F(ServerTest, ShutdownStopsTheDaemon) {
  Start();
  Client c(socket_);
  c.Send(Z("zSHUTDOWN"));
  EXPECT_EQ(c.ReadAll(), "");
  thread_.join();
  server_.reset();
  EXPECT_FALSE(fs::Exists(socket_));
}

}  // namespace
}  // namespace accord::scand

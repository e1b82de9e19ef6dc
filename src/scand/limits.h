// Every resource cap of `accord scand`, with its default, in one place. Each is an option of
// ServerOptions (and of the command line); each, when hit, is answered with a reply that says so or
// with the connection closed, never with a silent stall of the other clients.
// The names in brackets are clamd.conf's equivalents, whose defaults these follow where it has one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace accord::scand {

struct ServerLimits {
  // Connections open at once; one more is answered "MAX CONNECTIONS REACHED. ERROR" and closed.
  size_t max_connections = 4096;
  // Bytes of one INSTREAM [StreamMaxLength 25M]; over it: "INSTREAM size limit exceeded. ERROR".
  uint64_t max_stream_size = uint64_t{25} << 20;
  // Bytes of every stream held in memory together (received, queued or being scanned). Past it, the
  // daemon stops reading from streaming clients until scans finish: TCP's flow control holds the
  // rest in the clients' buffers, and memory stays bounded whatever the clients send. If all of it
  // is held by streams still arriving, one goes on to its end (past this by at most
  // max_stream_size) so that its scan frees memory for the others. A paused client waits at most
  // twice read_timeout.
  uint64_t max_stream_memory = uint64_t{1} << 30;
  // Longest command line (a SCAN path and its prefix); longer: "COMMAND TOO LONG. ERROR".
  size_t max_command_length = 4096 + 32;
  // Time from connecting to a complete first command [CommandReadTimeout 30], however slowly its
  // bytes come: "COMMAND READ TIMED OUT".
  std::chrono::milliseconds command_timeout{30'000};
  // Time between two pieces of a stream, or two commands of a session, and from the first byte of
  // a later command to its end [ReadTimeout 120].
  std::chrono::milliseconds read_timeout{120'000};
  // A client that reads none of its replies for this long is disconnected [SendBufTimeout 500 ms;
  // longer here, for clients that scan many files in one session].
  std::chrono::milliseconds send_timeout{30'000};
  // Reply bytes buffered for one client that does not read them; past it, it is disconnected.
  size_t max_reply_bytes = size_t{1} << 20;
  // Requests of one session dispatched and not yet answered; past it, the daemon reads no more
  // commands from that client until replies go out [clamd blocks the same way].
  size_t max_pending_requests = 64;
  // Requests queued or being scanned, all clients together [MaxQueue 100; more here, as a request
  // costs its command line, and a stream's bytes count in max_stream_memory anyway]; past it, the
  // daemon reads no more commands from any client until one is answered, then resumes the clients
  // it held back in turn. A client held back does not time out meanwhile.
  size_t max_queue = 1024;
  // File descriptors passed (SCM_RIGHTS) and not yet claimed by a FILDES.
  size_t max_passed_fds = 16;
};

}  // namespace accord::scand

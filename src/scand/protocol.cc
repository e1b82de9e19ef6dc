#include "scand/protocol.h"

#include <cstdio>

#include "core/bytes.h"
#include "scan/report.h"

namespace accord::scand {
namespace {

struct CommandInfo {
  std::string_view name;
  Command command;
  bool needs_argument;
  bool old_style;  // accepted without a z or n prefix
};

// clamd(8)'s commands. The order is the one VERSIONCOMMANDS lists.
constexpr CommandInfo kCommands[] = {
    {"SCAN", Command::kScan, true, true},
    {"QUIT", Command::kShutdown, false, true},
    {"RELOAD", Command::kReload, false, true},
    {"PING", Command::kPing, false, true},
    {"CONTSCAN", Command::kContScan, true, true},
    {"VERSIONCOMMANDS", Command::kVersionCommands, false, false},
    {"VERSION", Command::kVersion, false, true},
    {"END", Command::kEnd, false, false},
    {"SHUTDOWN", Command::kShutdown, false, true},
    {"MULTISCAN", Command::kMultiScan, true, true},
    {"FILDES", Command::kFildes, false, true},
    {"STATS", Command::kStats, false, true},
    {"IDSESSION", Command::kIdSession, false, false},
    {"INSTREAM", Command::kInstream, false, false},
    {"ALLMATCHSCAN", Command::kAllMatchScan, true, false},
};

Request Identify(std::string_view text, char term, bool prefixed) {
  Request r;
  r.term = term;
  r.prefixed = prefixed;
  r.text = std::string(text);
  size_t space = text.find(' ');
  std::string_view name = text.substr(0, space);
  for (const CommandInfo& c : kCommands) {
    if (name != c.name) continue;
    if (!prefixed && !c.old_style) return r;
    if (c.needs_argument) {
      if (space == std::string_view::npos || space + 1 == text.size()) return r;
      r.argument = std::string(text.substr(space + 1));
    } else if (space != std::string_view::npos) {
      return r;  // trailing garbage
    }
    r.command = c.command;
    return r;
  }
  return r;
}

// clamd's cli_chomp: trailing CR and LF go.
std::string_view Chomp(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

}  // namespace

std::string_view CommandName(Command c) {
  for (const CommandInfo& i : kCommands)
    if (i.command == c) return i.name;
  return "UNKNOWN";
}

bool TakesPath(Command c) {
  return c == Command::kScan || c == Command::kContScan || c == Command::kMultiScan ||
         c == Command::kAllMatchScan;
}

bool AllowedInSession(Command c) {
  switch (c) {
    case Command::kScan:
    case Command::kInstream:
    case Command::kFildes:
    case Command::kVersion:
    case Command::kVersionCommands:
    case Command::kPing:
    case Command::kStats:
    case Command::kEnd:
      return true;
    default:
      return false;
  }
}

Parsed ParseCommand(std::string_view in, bool end_of_read, size_t max_length) {
  Parsed p;
  if (in.empty()) return p;
  std::string_view text;
  char term = '\n';
  bool prefixed = in[0] == 'z' || in[0] == 'n';
  if (prefixed) {
    term = in[0] == 'z' ? '\0' : '\n';
    size_t end = in.find(term, 1);
    if (end == std::string_view::npos) {
      if (in.size() > max_length) p.kind = Parsed::kTooLong;
      return p;
    }
    if (end > max_length) {
      p.kind = Parsed::kTooLong;
      return p;
    }
    text = in.substr(1, end - 1);
    if (term == '\n') text = Chomp(text);
    p.consumed = end + 1;
  } else {
    size_t end = in.find('\n');
    if (end == std::string_view::npos && !end_of_read) {
      if (in.size() > max_length) p.kind = Parsed::kTooLong;
      return p;
    }
    if (end == std::string_view::npos) end = in.size();
    if (end > max_length) {
      p.kind = Parsed::kTooLong;
      return p;
    }
    text = Chomp(in.substr(0, end));
    p.consumed = std::min(end + 1, in.size());
  }
  p.request = Identify(text, term, prefixed);
  if (p.request.command == Command::kFildes) {
    // The descriptor travels with one more byte, in the same packet or the next one.
    if (in.size() <= p.consumed) return Parsed{};
    ++p.consumed;
  }
  p.kind = Parsed::kCommand;
  return p;
}

std::string FormatCommand(Command c, char prefix, std::string_view argument) {
  std::string out(1, prefix);
  out += CommandName(c);
  if (!argument.empty()) {
    out += ' ';
    out += argument;
  }
  out.push_back(prefix == 'z' ? '\0' : '\n');
  return out;
}

StreamDecoder::State StreamDecoder::Feed(std::string_view in, size_t* consumed, std::string* out) {
  size_t pos = 0;
  while (!done_ && !too_large_ && pos < in.size()) {
    if (chunk_left_ == 0) {
      size_t take = std::min(in.size() - pos, 4 - header_.size());
      header_.append(in.substr(pos, take));
      pos += take;
      if (header_.size() < 4) break;
      uint32_t len = GetU32(header_);
      header_.clear();
      if (len == 0) {
        done_ = true;
        break;
      }
      if (len > remaining_) {
        too_large_ = true;
        break;
      }
      remaining_ -= len;
      chunk_left_ = len;
      continue;
    }
    size_t take = std::min<size_t>(in.size() - pos, chunk_left_);
    out->append(in.substr(pos, take));
    pos += take;
    chunk_left_ -= uint32_t(take);
    received_ += take;
  }
  *consumed = pos;
  return done_ ? State::kDone : too_large_ ? State::kTooLarge : State::kMore;
}

std::string Reply(uint32_t id, std::string_view text, char term) {
  std::string out;
  if (id > 0) out = std::to_string(id) + ": ";
  out += text;
  out.push_back(term);
  return out;
}

std::vector<std::string> ReportLines(const scan::FileReport& r, std::string_view name, bool all_matches,
                                     bool ok_line) {
  std::vector<std::string> lines;
  std::string shown = scan::EscapePath(name);
  if (!r.error.empty()) {
    lines.push_back(shown + ": " + scan::EscapePath(r.error) + " ERROR");
    return lines;
  }
  for (const scan::Finding& f : r.findings) {
    if (f.kind == "limit" || f.kind == "encrypted" || f.kind == "corrupt") continue;
    lines.push_back(shown + ": " + scan::EscapePath(f.name) + " FOUND");
    if (!all_matches) break;
  }
  if (lines.empty() && ok_line) lines.push_back(shown + ": OK");
  return lines;
}

std::string VersionText(std::string_view db_version) {
  return "accord 0.1.0/" + std::string(db_version);
}

std::string VersionCommandsText(std::string_view db_version) {
  std::string out = VersionText(db_version) + "| COMMANDS:";
  for (const CommandInfo& c : kCommands) {
    out += ' ';
    out += c.name;
  }
  return out;
}

std::string StatsText(const StatsInfo& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "POOLS: 1\n\nSTATE: VALID PRIMARY\nTHREADS: live %zu  idle %zu max %zu idle-timeout 0\n"
                "QUEUE: %zu items\nCONNECTIONS: %zu\nREQUESTS: %llu\nRELOADS: %llu\n\n"
                "MEMSTATS: heap N/A mmap N/A used N/A free N/A releasable N/A pools 1 pools_used %.3fM "
                "pools_total %.3fM\nEND",
                s.threads, s.threads - std::min(s.busy, s.threads), s.threads, s.queued, s.connections,
                (unsigned long long)s.requests, (unsigned long long)s.reloads,
                double(s.stream_bytes) / 1048576.0, s.rss_mb);
  return buf;
}

}  // namespace accord::scand

#include "cli/limit_options.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iterator>

#include "core/limits.h"

namespace accord::cli {
namespace {

std::string Quoted(std::string_view option, std::string_view text) {
  return std::string(option) + " \"" + std::string(text) + "\"";
}

}  // namespace

void AddLimitOptions(CLI::App& app, LimitOptionTexts& t) {
  // Through functions, so that an option given an empty value is told from one not given.
  auto add = [&app](const char* name, std::optional<std::string>& field, const char* help) {
    app.add_option_function<std::string>(
        name, [&field](const std::string& v) { field = v; }, help);
  };
  add("--max-filesize", t.max_filesize,
      "larger files and members are not scanned whole (bytes, or with K, M, G; 0: no limit; default 100M)");
  add("--max-scansize", t.max_scansize,
      "bytes extracted per top-level file (or with K, M, G; 0: no limit; default 400M)");
  add("--max-recursion", t.max_recursion,
      "container levels, the file itself the first: 1 opens none (default 17, at most 256)");
  add("--max-files", t.max_files, "members extracted per container (0: no limit; default 10000)");
  add("--max-scantime", t.max_scantime, "milliseconds per top-level file (0: no limit; default 120000)");
  scan::ContainerKinds& k = t.kinds;
  app.add_flag("--scan-archive", k.archive,
               "=no: open no archive, compressed stream, SFX, CHM, RTF, NSIS, AutoIt... (docs/scan-cli.md)");
  app.add_flag("--scan-mail", k.mail, "=no: open no mail, mbox, TNEF or uuencoded text");
  app.add_flag("--scan-ole2", k.ole2, "=no: open no OLE2 file (Office documents, MSI)");
  app.add_flag("--scan-pdf", k.pdf, "=no: open no PDF");
  app.add_flag("--scan-pe", k.pe, "=no: unpack no packed program (UPX...), look for no program inside one");
  app.add_flag("--scan-html", k.html, "=no: decode no data: URI in text");
  for (const char* other : {"--scan-elf", "--scan-swf", "--scan-xmldocs", "--scan-hwp3", "--scan-onenote",
                            "--scan-image", "--scan-image-fuzzy-hash"})
    app.add_flag(other, t.other_kinds, "clamscan's; accord opens no such file, yes or no");
  app.add_flag("--alert-exceeds-max", t.alert_exceeds_max, "clamscan's; accord always reports limits hit");
  app.add_flag("--alert-encrypted", t.alert_encrypted, "clamscan's; accord always reports encrypted members");
  app.add_flag("--alert-encrypted-archive", t.alert_encrypted_archive, "the same, for archives");
  app.add_flag("--alert-encrypted-doc", t.alert_encrypted_doc, "the same, for documents");
  app.add_flag("--heuristic-alerts", t.heuristic_alerts,
               "clamscan's; accord always reports its heuristic notes");
  app.add_flag("--phishing-scan-urls", t.phishing_urls, "clamscan's; accord has no phishing signatures");
  for (size_t i = 0; i < std::size(kOptInDetections); ++i)
    app.add_flag(kOptInDetections[i], t.opt_in[i], "clamscan's; accord has no such detection (=no only)");
  for (const InertOption& o : kInertValueOptions) {
    app.add_option_function<std::vector<std::string>>(
           o.name,
           [&t, &o](const std::vector<std::string>& values) {
             for (const std::string& v : values) t.inert.emplace_back(&o, v);
           },
           o.value == InertOption::kCategory
               ? "clamscan's, for ClamAV's own databases; accord reports every PUA signature it loads"
               : "clamscan's; accord has no such stage: the value is checked, and changes nothing")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  }
  app.add_flag("--detect-pua", t.detect_pua,
               "clamscan's, for ClamAV's own databases; accord reports every PUA signature it loads");
  for (const char* o : kInertSwitches)
    app.add_flag(o, t.inert_switch, "clamscan's; accord has no such stage: yes or no, changes nothing");
}

Result<uint64_t> ParseLimitCount(std::string_view option, std::string_view text,
                                 std::vector<std::string>& warnings) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgument(Quoted(option, text) + ": not a number (digits only)");
  uint64_t v = 0;
  for (char c : text) {
    const uint64_t d = uint64_t(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      warnings.push_back(Quoted(option, text) + " is more than accord can count: no limit");
      return UINT64_MAX;
    }
    v = v * 10 + d;
  }
  return v;
}

Result<uint64_t> ParseLimitSize(std::string_view option, std::string_view text,
                                std::vector<std::string>& warnings) {
  unsigned shift = 0;
  std::string_view digits = text;
  if (!text.empty()) {
    switch (text.back()) {
      case 'K':
      case 'k':
        shift = 10;
        break;
      case 'M':
      case 'm':
        shift = 20;
        break;
      case 'G':
      case 'g':
        shift = 30;
        break;
      default:
        break;
    }
    if (shift != 0) digits.remove_suffix(1);
  }
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return InvalidArgument(Quoted(option, text) +
                           ": not a size (digits, then K, M or G if a multiple of those)");
  std::vector<std::string> ignored;
  ASSIGN_OR_RETURN(uint64_t v, ParseLimitCount(option, digits, ignored));
  if (!ignored.empty() || v > (UINT64_MAX >> shift)) {
    warnings.push_back(Quoted(option, text) + " is more than accord can count: no limit");
    return UINT64_MAX;
  }
  return v << shift;
}

Result<scan::ContainerLimits> ApplyLimitOptions(const LimitOptionTexts& t, scan::ContainerLimits limits,
                                                std::vector<std::string>& warnings) {
  // 0: no limit, as clamscan.
  auto unlimited_if_zero = [](uint64_t v) { return v == 0 ? UINT64_MAX : v; };
  if (t.max_filesize) {
    ASSIGN_OR_RETURN(uint64_t v, ParseLimitSize("--max-filesize", *t.max_filesize, warnings));
    limits.max_file_size = unlimited_if_zero(v);
  }
  if (t.max_scansize) {
    ASSIGN_OR_RETURN(uint64_t v, ParseLimitSize("--max-scansize", *t.max_scansize, warnings));
    limits.max_scan_size = unlimited_if_zero(v);
  }
  if (t.max_files) {
    ASSIGN_OR_RETURN(uint64_t v, ParseLimitCount("--max-files", *t.max_files, warnings));
    limits.max_files = unlimited_if_zero(v);
  }
  if (t.max_scantime) {
    ASSIGN_OR_RETURN(uint64_t v, ParseLimitCount("--max-scantime", *t.max_scantime, warnings));
    // Beyond a year is no limit too: the deadline is a time point, which must not overflow.
    if (v == 0 || v > limits::kMaxScanTimeMs) v = limits::kMaxScanTimeMs;
    limits.max_scan_time = std::chrono::milliseconds(v);
  }
  if (t.max_recursion) {
    std::vector<std::string> ignored;
    ASSIGN_OR_RETURN(uint64_t v, ParseLimitCount("--max-recursion", *t.max_recursion, ignored));
    if (v > uint64_t(limits::kMaxContainerLevels))
      return InvalidArgument(Quoted("--max-recursion", *t.max_recursion) + ": at most " +
                             std::to_string(limits::kMaxContainerLevels) + " levels");
    if (v == 0) {  // clamscan's default is accord's
      v = uint64_t(scan::ContainerLimits{}.max_recursion);
      warnings.push_back("--max-recursion 0 is not allowed: the default, " + std::to_string(v) +
                         ", as clamscan");
    }
    limits.max_recursion = int(v);
  }
  for (size_t i = 0; i < std::size(kOptInDetections); ++i) {
    if (t.opt_in[i])
      return InvalidArgument(std::string(kOptInDetections[i]) +
                             "=yes: accord has no such detection (clamscan's; =no, its default, is taken)");
  }
  const auto given = [&t](std::string_view option) {
    return std::any_of(t.inert.begin(), t.inert.end(),
                       [&](const auto& given) { return given.first->name == option; });
  };
  if (t.detect_pua && given("--exclude-pua") && given("--include-pua"))
    return InvalidArgument(
        "--detect-pua: --exclude-pua and --include-pua cannot be used at the same time (as in clamscan)");
  for (const auto& [o, value] : t.inert) {
    const std::string_view option = o->name;
    std::vector<std::string> ignored;
    switch (o->value) {
      case InertOption::kCategory:  // any text but none, as clamscan takes it
        if (value.empty()) return InvalidArgument(Quoted(option, value) + ": not a PUA category (empty)");
        break;
      case InertOption::kSize:
        RETURN_IF_ERROR(ParseLimitSize(option, value, ignored).status());
        break;
      case InertOption::kCount:
        RETURN_IF_ERROR(ParseLimitCount(option, value, ignored).status());
        if (option == "--structured-cc-mode" && value != "0" && value != "1")
          return InvalidArgument(Quoted(option, value) + ": 0 or 1");
        break;
    }
  }
  limits.kinds = t.kinds;
  if (!t.alert_exceeds_max)
    warnings.push_back("--alert-exceeds-max=no is not followed: accord reports every limit a file hits");
  for (auto [on, name] : {std::pair{t.alert_encrypted, "--alert-encrypted"},
                          std::pair{t.alert_encrypted_archive, "--alert-encrypted-archive"},
                          std::pair{t.alert_encrypted_doc, "--alert-encrypted-doc"}}) {
    if (!on)
      warnings.push_back(std::string(name) + "=no is not followed: accord reports every encrypted member");
  }
  if (!t.heuristic_alerts)
    warnings.push_back(
        "--heuristic-alerts=no is not followed: accord reports every limit, encrypted and broken file");
  return limits;
}

}  // namespace accord::cli

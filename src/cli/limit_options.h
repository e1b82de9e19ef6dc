// The per-file limit options of `accord scan` and `accord scand`, read as clamscan and clamd read
// them, so that a script's `--max-filesize=100M --max-scansize=0` means there what it means to
// clamscan (docs/scan-cli.md, "Limits"):
//
//   size   = 1*DIGIT [ "K" / "k" / "M" / "m" / "G" / "g" ]   ; --max-filesize, --max-scansize
//   count  = 1*DIGIT                                         ; --max-files, --max-scantime (ms),
//                                                            ; --max-recursion
//
// K, M and G multiply by 2^10, 2^20 and 2^30, as clamscan's option parser does. Anything else (a
// sign, a space, "1.5M", "10MB", an empty value) is an error naming the option, before anything is
// scanned. A value too large to count is no limit (with a warning, as clamscan warns).
//
// What 0 means, as in clamscan: no limit for --max-filesize, --max-scansize, --max-files and
// --max-scantime (a scan time of at most limits::kMaxScanTimeMs, a year); --max-recursion 0 is not
// allowed and means the default, 17, with a warning. --max-recursion counts levels as clamscan
// does: the file itself is level 1, so `--max-recursion 1` opens no container and 17 opens 16
// nested ones; above limits::kMaxContainerLevels it is an error (each open level holds a reader
// and its buffers).
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "scan/container.h"

namespace CLI {
class App;
}

namespace accord::cli {

// clamscan's opt-in detections that accord does not have (LimitOptionTexts::opt_in).
inline constexpr const char* kOptInDetections[] = {"--alert-broken",
                                                   "--alert-broken-media",
                                                   "--alert-macros",
                                                   "--alert-phishing-ssl",
                                                   "--alert-phishing-cloak",
                                                   "--alert-partition-intersection",
                                                   "--heuristic-scan-precedence",
                                                   "--detect-structured",
                                                   "--official-db-only"};

// clamscan's options for stages accord does not have (HTML and script normalisation, bytecode,
// PCRE signatures, partitions, icons, HWP3, structured data): taken, their values checked as
// clamscan's (`size` or `count` of the grammar above), and change nothing
// (LimitOptionTexts::inert).
struct InertOption {
  enum Value { kSize, kCount, kCategory };  // K, M, G allowed; digits only; any text but none
  const char* name;
  Value value;
};
inline constexpr InertOption kInertValueOptions[] = {
    {"--max-embeddedpe", InertOption::kSize},         {"--max-htmlnormalize", InertOption::kSize},
    {"--max-htmlnotags", InertOption::kSize},         {"--max-scriptnormalize", InertOption::kSize},
    {"--max-ziptypercg", InertOption::kSize},         {"--pcre-max-filesize", InertOption::kSize},
    {"--max-partitions", InertOption::kCount},        {"--max-iconspe", InertOption::kCount},
    {"--max-rechwp3", InertOption::kCount},           {"--pcre-match-limit", InertOption::kCount},
    {"--pcre-recmatch-limit", InertOption::kCount},   {"--bytecode-timeout", InertOption::kCount},
    {"--structured-ssn-format", InertOption::kCount}, {"--structured-ssn-count", InertOption::kCount},
    {"--structured-cc-count", InertOption::kCount},   {"--structured-cc-mode", InertOption::kCount},
    {"--exclude-pua", InertOption::kCategory},        {"--include-pua", InertOption::kCategory}};
// Their yes/no switches, taken either way.
inline constexpr const char* kInertSwitches[] = {"--bytecode",  "--bytecode-unsigned", "--phishing-sigs",
                                                 "--normalize", "--nocerts",           "--force-to-disk"};

// The options' texts as given (nullopt when not given; "" when given empty, an error).
struct LimitOptionTexts {
  std::optional<std::string> max_filesize, max_scansize, max_files, max_scantime, max_recursion;
  // clamscan's --scan-archive, --scan-mail, --scan-ole2, --scan-pdf, --scan-pe and --scan-html
  // (`=no`; yes by default): the kinds of container opened (scan::ContainerKinds).
  scan::ContainerKinds kinds;
  // --alert-exceeds-max, --alert-encrypted, --alert-encrypted-archive, --alert-encrypted-doc: accord
  // always reports limits hit and encrypted members; `=no` is taken, with a warning, and changes
  // nothing. clamscan's --scan-elf, --scan-swf, --scan-xmldocs, --scan-hwp3, --scan-onenote,
  // --scan-image and --scan-image-fuzzy-hash are taken and change nothing either: accord opens
  // none of those formats (docs/containers.md).
  bool alert_exceeds_max = true, alert_encrypted = true, alert_encrypted_archive = true,
       alert_encrypted_doc = true, other_kinds = true;
  // --heuristic-alerts: accord's heuristic notes (limits, encrypted, broken) are always reported;
  // `=no` is taken with a warning. --phishing-scan-urls: taken either way (accord has no phishing
  // signatures).
  bool heuristic_alerts = true, phishing_urls = true;
  // clamscan's opt-in detections accord does not have (kOptInDetections): `=no`, their default,
  // is taken; `=yes` is an error, so that no one relies on a detection that never comes.
  bool opt_in[std::size(kOptInDetections)] = {};
  // kInertValueOptions given (the option's entry, its value), in order; kInertSwitches' values.
  std::vector<std::pair<const InertOption*, std::string>> inert;
  bool inert_switch = false;
  // --detect-pua: taken either way (accord reports every PUA signature it loads, as clamscan does
  // those of a database not ClamAV's); with it, --exclude-pua and --include-pua at once are an
  // error, as in clamscan.
  bool detect_pua = false;
};

// Adds --max-filesize, --max-scansize, --max-recursion, --max-files and --max-scantime, and the
// yes/no options above (`--scan-archive=no`, `=0`, `=false`; bare: yes), to `app`.
void AddLimitOptions(CLI::App& app, LimitOptionTexts& texts);

// `limits` with the options given applied; one line per value clamscan would also warn about is
// appended to `warnings` ("--max-recursion 0 is not allowed: the default, 17").
Result<scan::ContainerLimits> ApplyLimitOptions(const LimitOptionTexts& texts, scan::ContainerLimits limits,
                                                std::vector<std::string>& warnings);

// One value of the grammar above; `option` names it in errors and warnings. A value past
// UINT64_MAX is UINT64_MAX with a warning.
Result<uint64_t> ParseLimitSize(std::string_view option, std::string_view text,
                                std::vector<std::string>& warnings);
Result<uint64_t> ParseLimitCount(std::string_view option, std::string_view text,
                                 std::vector<std::string>& warnings);

}  // namespace accord::cli

#include "scan/path_filter.h"

#include <regex.h>

#include "core/limits.h"

namespace accord::scan {

struct PathFilter::Regex {
  regex_t re;
  bool compiled = false;  // regfree of a regex_t that regcomp refused is undefined
  bool slash = false;     // the pattern ends in '/': it is matched against the path and a '/'
  ~Regex() {
    if (compiled) ::regfree(&re);
  }
};

PathFilter::~PathFilter() = default;

namespace {

using Regexes = std::vector<std::unique_ptr<PathFilter::Regex>>;

Status Compile(const std::vector<std::string>& patterns, const char* option, Regexes* out) {
  for (const std::string& p : patterns) {
    if (p.size() > limits::kMaxPathPatternSize)
      return InvalidArgument(std::string(option) + ": a pattern over " +
                             std::to_string(limits::kMaxPathPatternSize) + " bytes");
    if (p.find('\0') != std::string::npos)
      return InvalidArgument(std::string(option) + ": a NUL byte in a pattern");
    auto r = std::make_unique<PathFilter::Regex>();
    if (int rc = ::regcomp(&r->re, p.c_str(), REG_EXTENDED | REG_NOSUB); rc != 0) {
      char why[256];
      ::regerror(rc, &r->re, why, sizeof why);
      return InvalidArgument(std::string(option) + " \"" + p + "\": " + why);
    }
    r->compiled = true;
    r->slash = !p.empty() && p.back() == '/';
    out->push_back(std::move(r));
  }
  return Status::Ok();
}

bool Any(const Regexes& res, const std::string& path) {
  std::string with_slash;
  for (const auto& r : res) {
    if (r->slash && with_slash.empty()) with_slash = path + "/";
    if (::regexec(&r->re, (r->slash ? with_slash : path).c_str(), 0, nullptr, 0) == 0) return true;
  }
  return false;
}

bool Skips(const Regexes& exclude, const Regexes& include, const std::string& path) {
  if (Any(exclude, path)) return true;
  return !include.empty() && !Any(include, path);
}

}  // namespace

Result<std::shared_ptr<const PathFilter>> PathFilter::Make(const PathPatterns& p) {
  if (p.exclude.size() + p.include.size() + p.exclude_dir.size() + p.include_dir.size() >
      limits::kMaxPathPatterns)
    return InvalidArgument("more than " + std::to_string(limits::kMaxPathPatterns) + " path patterns");
  std::shared_ptr<PathFilter> f(new PathFilter());
  RETURN_IF_ERROR(Compile(p.exclude, "--exclude", &f->exclude_));
  RETURN_IF_ERROR(Compile(p.include, "--include", &f->include_));
  RETURN_IF_ERROR(Compile(p.exclude_dir, "--exclude-dir", &f->exclude_dir_));
  RETURN_IF_ERROR(Compile(p.include_dir, "--include-dir", &f->include_dir_));
  return std::shared_ptr<const PathFilter>(std::move(f));
}

bool PathFilter::HasFilePatterns() const {
  return !exclude_.empty() || !include_.empty();
}

bool PathFilter::SkipsFile(const std::string& path) const {
  return Skips(exclude_, include_, path);
}

bool PathFilter::SkipsDir(const std::string& path) const {
  return Skips(exclude_dir_, include_dir_, path);
}

}  // namespace accord::scan

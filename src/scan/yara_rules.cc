#include "scan/yara_rules.h"

#include <yara.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

namespace accord::scan {

namespace {
constexpr const char* kExternals[] = {"filename", "filepath", "extension", "filetype", "owner"};

Status YaraInit() {
  static std::once_flag once;
  static int rc = ERROR_SUCCESS;
  std::call_once(once, [] { rc = yr_initialize(); });
  if (rc != ERROR_SUCCESS) return Internal("libyara failed to initialise (error " + std::to_string(rc) + ")");
  return Status::Ok();
}

struct CompileErrors {
  std::vector<std::string> messages;
};

void OnCompileMessage(int level, const char* file, int line, const YR_RULE*, const char* message,
                      void* user) {
  if (level != YARA_ERROR_LEVEL_ERROR) return;  // warnings (slow strings, ...) do not fail a set
  auto* e = static_cast<CompileErrors*>(user);
  e->messages.push_back(std::string(file ? file : "<rules>") + ":" + std::to_string(line) + ": " + message);
}

bool IsRuleFile(const std::filesystem::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".yar" || ext == ".yara";
}

struct MemWriter {
  Bytes out;
  static size_t Write(const void* ptr, size_t size, size_t count, void* user) {
    static_cast<MemWriter*>(user)->out.append(static_cast<const char*>(ptr), size * count);
    return count;
  }
};
struct MemReader {
  ByteView in;
  static size_t Read(void* ptr, size_t size, size_t count, void* user) {
    auto* r = static_cast<MemReader*>(user);
    if (size == 0) return 0;
    size_t n = std::min(count, r->in.size() / size);
    std::memcpy(ptr, r->in.data(), n * size);
    r->in.remove_prefix(n * size);
    return n;
  }
};

size_t CountRules(YR_RULES* rules) {
  size_t n = 0;
  const YR_RULE* rule;
  yr_rules_foreach(rules, rule) {
    ++n;
  }
  return n;
}
}  // namespace

std::string FileTypeOf(ByteView h) {
  auto starts = [&](std::string_view magic) { return h.substr(0, magic.size()) == magic; };
  if (starts("MZ")) return "EXE";
  if (starts("\x7f"
             "ELF"))
    return "ELF";
  if (starts("\xfe\xed\xfa\xce") || starts("\xfe\xed\xfa\xcf") || starts("\xce\xfa\xed\xfe") ||
      starts("\xcf\xfa\xed\xfe") || starts("\xca\xfe\xba\xbe"))
    return "MACH-O";
  if (starts("{\\rt")) return "RTF";
  if (starts("MDMP")) return "MDMP";
  if (starts("PK\x03\x04")) return "ZIP";
  if (starts("Rar!")) return "RAR";
  if (starts("7z\xbc\xaf\x27\x1c")) return "7Z";
  if (starts("\x1f\x8b")) return "GZIP";
  if (starts("%PDF")) return "PDF";
  if (starts("\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")) return "OLE";
  if (starts("<?php")) return "PHP";
  if (starts("#!") && h.substr(0, 64).find("python") != ByteView::npos) return "Python";
  if (starts("<%@") || starts("<%")) return "JSP";
  return "";
}

YaraRules::~YaraRules() {
  if (rules_) yr_rules_destroy(rules_);
}

Result<std::shared_ptr<const YaraRules>> YaraRules::Compile(const std::vector<std::string>& paths) {
  RETURN_IF_ERROR(YaraInit());
  std::vector<std::string> files;
  for (const auto& p : paths) {
    std::error_code ec;
    if (std::filesystem::is_directory(p, ec)) {
      for (auto it = std::filesystem::recursive_directory_iterator(p, ec);
           !ec && it != std::filesystem::end(it); it.increment(ec)) {
        if (it->is_regular_file() && IsRuleFile(it->path())) files.push_back(it->path().string());
      }
      if (ec) return Internal("reading rule directory " + p + ": " + ec.message());
    } else if (std::filesystem::is_regular_file(p, ec)) {
      files.push_back(p);
    } else {
      return NotFound("YARA rules " + p + ": no such file or directory");
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) return InvalidArgument("no YARA rule files (*.yar, *.yara) in the paths given");

  YR_COMPILER* compiler = nullptr;
  if (yr_compiler_create(&compiler) != ERROR_SUCCESS)
    return ResourceExhausted("libyara: cannot create a compiler");
  CompileErrors errors;
  yr_compiler_set_callback(compiler, OnCompileMessage, &errors);
  for (const char* name : kExternals) yr_compiler_define_string_variable(compiler, name, "");
  for (const auto& f : files) {
    FILE* fp = std::fopen(f.c_str(), "r");
    if (!fp) {
      errors.messages.push_back(f + ": cannot open");
      continue;
    }
    // After its first error libyara's compiler is unusable; later files are then compiled on
    // throw-away compilers only to report their errors too.
    if (errors.messages.empty()) {
      if (yr_compiler_add_file(compiler, fp, f.c_str(), f.c_str()) != 0 && errors.messages.empty())
        errors.messages.push_back(f + ": does not compile");
    } else {
      YR_COMPILER* probe = nullptr;
      if (yr_compiler_create(&probe) == ERROR_SUCCESS) {
        yr_compiler_set_callback(probe, OnCompileMessage, &errors);
        for (const char* name : kExternals) yr_compiler_define_string_variable(probe, name, "");
        yr_compiler_add_file(probe, fp, f.c_str(), f.c_str());
        yr_compiler_destroy(probe);
      }
    }
    std::fclose(fp);
  }
  if (!errors.messages.empty()) {
    yr_compiler_destroy(compiler);
    std::string msg = "YARA rules do not compile:";
    for (size_t i = 0; i < errors.messages.size() && i < 20; ++i) msg += "\n  " + errors.messages[i];
    if (errors.messages.size() > 20)
      msg += "\n  ... and " + std::to_string(errors.messages.size() - 20) + " more";
    return InvalidArgument(msg);
  }
  YR_RULES* rules = nullptr;
  int rc = yr_compiler_get_rules(compiler, &rules);
  yr_compiler_destroy(compiler);
  if (rc != ERROR_SUCCESS)
    return Internal("libyara: cannot build the rules (error " + std::to_string(rc) + ")");
  std::shared_ptr<YaraRules> out(new YaraRules());
  out->rules_ = rules;
  out->rule_count_ = CountRules(rules);
  out->file_count_ = files.size();
  return std::shared_ptr<const YaraRules>(std::move(out));
}

Result<std::shared_ptr<const YaraRules>> YaraRules::Load(ByteView saved) {
  RETURN_IF_ERROR(YaraInit());
  MemReader reader{saved};
  YR_STREAM stream{&reader, MemReader::Read, nullptr};
  YR_RULES* rules = nullptr;
  int rc = yr_rules_load_stream(&stream, &rules);
  if (rc != ERROR_SUCCESS)
    return DataLoss("compiled YARA rules do not load (libyara error " + std::to_string(rc) +
                    "; built by another libyara version?)");
  std::shared_ptr<YaraRules> out(new YaraRules());
  out->rules_ = rules;
  out->rule_count_ = CountRules(rules);
  return std::shared_ptr<const YaraRules>(std::move(out));
}

Result<Bytes> YaraRules::Save() const {
  MemWriter writer;
  YR_STREAM stream{&writer, nullptr, MemWriter::Write};
  int rc = yr_rules_save_stream(rules_, &stream);
  if (rc != ERROR_SUCCESS) return Internal("libyara: cannot save rules (error " + std::to_string(rc) + ")");
  return std::move(writer.out);
}

YaraScanner::YaraScanner(std::shared_ptr<const YaraRules> rules) : rules_(std::move(rules)) {
  if (yr_scanner_create(rules_->raw(), &scanner_) != ERROR_SUCCESS) scanner_ = nullptr;
}

YaraScanner::~YaraScanner() {
  if (scanner_) yr_scanner_destroy(scanner_);
}

namespace {
int OnScanMessage(YR_SCAN_CONTEXT*, int message, void* data, void* user) {
  auto* out = static_cast<YaraScanner::Outcome*>(user);
  if (message == CALLBACK_MSG_RULE_MATCHING) {
    auto* rule = static_cast<YR_RULE*>(data);
    out->matches.push_back({rule->identifier, rule->ns ? rule->ns->name : ""});
  } else if (message == CALLBACK_MSG_TOO_MANY_MATCHES) {
    auto* s = static_cast<YR_STRING*>(data);
    out->capped.push_back(s && s->identifier ? s->identifier : "?");
  }
  return CALLBACK_CONTINUE;
}
}  // namespace

Result<YaraScanner::Outcome> YaraScanner::Scan(ByteView data, const YaraExternals& ext, int timeout_seconds) {
  if (!scanner_) return ResourceExhausted("libyara: no scanner");
  const std::string* values[] = {&ext.filename, &ext.filepath, &ext.extension, &ext.filetype, &ext.owner};
  for (int i = 0; i < 5; ++i) yr_scanner_define_string_variable(scanner_, kExternals[i], values[i]->c_str());
  Outcome out;
  yr_scanner_set_callback(scanner_, OnScanMessage, &out);
  yr_scanner_set_timeout(scanner_, timeout_seconds);
  yr_scanner_set_flags(scanner_, 0);
  int rc = yr_scanner_scan_mem(scanner_, reinterpret_cast<const uint8_t*>(data.data()), data.size());
  if (rc == ERROR_SCAN_TIMEOUT) {
    out.timed_out = true;
  } else if (rc != ERROR_SUCCESS) {
    return Internal("libyara scan failed (error " + std::to_string(rc) + ")");
  }
  return out;
}

}  // namespace accord::scan

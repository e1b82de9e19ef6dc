#include "scan/load.h"

namespace accord::scan {

Result<LoadedSignatures> LoadSignatures(const SignatureFiles& files) {
  LoadedSignatures out;
  for (const auto& path : files.databases) {
    ASSIGN_OR_RETURN(std::shared_ptr<const Database> db, Database::Open(path));
    if (!db->yara_blob().empty()) {
      Result<std::shared_ptr<const YaraRules>> r =
          YaraRules::Load(db->yara_blob(), [&db](ByteView part) { db->ReleasePages(part); });
      if (!r.ok()) return r.status().WithContext(path);
      out.rules.push_back(*r);
    }
    out.databases.push_back(std::move(db));
  }
  if (!files.hash_files.empty()) {
    DatabaseBuilder builder;
    for (const auto& h : files.hash_files) RETURN_IF_ERROR(AddHashFile(builder, h));
    ASSIGN_OR_RETURN(Bytes image, builder.Build());
    ASSIGN_OR_RETURN(std::shared_ptr<const Database> db, Database::OpenBytes(std::move(image), "--hashes"));
    out.databases.push_back(std::move(db));
  }
  if (!files.tlsh_files.empty()) {
    DatabaseBuilder builder;
    for (const auto& t : files.tlsh_files) RETURN_IF_ERROR(AddTlshFile(builder, t));
    ASSIGN_OR_RETURN(Bytes image, builder.Build());
    ASSIGN_OR_RETURN(std::shared_ptr<const Database> db, Database::OpenBytes(std::move(image), "--tlsh"));
    out.databases.push_back(std::move(db));
  }
  if (!files.yara.empty()) {
    ASSIGN_OR_RETURN(std::shared_ptr<const YaraRules> r, YaraRules::Compile(files.yara));
    out.rules.push_back(std::move(r));
  }
  if (out.databases.empty() && out.rules.empty())
    return InvalidArgument("no signatures: give -d DB, --hashes FILE, --tlsh FILE or --yara PATH");
  return out;
}

}  // namespace accord::scan

// tlog::ParseJournal on arbitrary bytes, as a log writer reads DIR/.accord/journal after a crash
// (or after someone else wrote it).
//
// Properties: valid_bytes never passes the input; re-encoding the records gives back exactly the
// input's first valid_bytes (one reading of each record, no slack); every record holds at least
// one entry, each a view into the input; what follows valid_bytes is not a whole record.
#include "fuzz_common.h"
#include "tlog/journal.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace accord;
  ByteView in = fuzz::AsBytes(data, size);
  Result<tlog::ParsedJournal> j = tlog::ParseJournal(in);
  if (!j.ok()) {
    FUZZ_CHECK(j.status().code() == Code::kDataLoss);
    return 0;
  }
  FUZZ_CHECK(j->valid_bytes <= in.size());
  Bytes again;
  for (const tlog::JournalRecord& r : j->records) {
    FUZZ_CHECK(!r.entries.empty());
    for (ByteView e : r.entries)
      FUZZ_CHECK(e.data() >= in.data() && e.data() + e.size() <= in.data() + in.size());
    again += tlog::EncodeJournalRecord(r.first, r.entries);
  }
  FUZZ_CHECK(ByteView(again) == in.substr(0, j->valid_bytes));
  if (j->valid_bytes < in.size()) {
    Result<tlog::ParsedJournal> tail = tlog::ParseJournal(in.substr(j->valid_bytes));
    FUZZ_CHECK(tail.ok() && tail->records.empty());
  }
  return 0;
}

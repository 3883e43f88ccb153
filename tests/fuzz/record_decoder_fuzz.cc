// libFuzzer target: decodes arbitrary bytes as a run of stored records, as a pull response body,
// the commit-log recovery scan and the dispatcher read them. Checks the invariants that must hold
// for any input: no crash, no read outside the input, every field of a decoded record inside the
// record, a record that verifies still verifies when re-encoded from its fields, and the
// properties walk terminates inside its block.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/message_record.h"

namespace {

void Check(bool cond) {
  if (!cond) std::abort();
}

bool Inside(std::string_view part, std::string_view whole) {
  return part.empty() || (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

void CheckRecord(const vela::RecordView& v, std::string_view data, bool verified) {
  Check(Inside(v.raw, data));
  Check(v.raw.size() >= vela::record::kMinRecordSize);
  for (std::string_view field : {v.topic, v.msg_id, v.properties, v.body}) Check(Inside(field, v.raw));
  Check(!v.topic.empty() && v.topic.size() <= vela::record::kMaxTopicLength);
  size_t pairs = 0;
  vela::ForEachProperty(v.properties, [&](std::string_view key, std::string_view value) {
    Check(Inside(key, v.properties) && Inside(value, v.properties));
    ++pairs;
    return true;
  });
  Check(pairs <= v.properties.size());
  if (verified) {
    // Re-encoding the decoded fields gives the same bytes (the format has one encoding).
    std::string again;
    vela::EncodeRecord(v.ToFields(), &again);
    Check(again == v.raw);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  for (bool verify : {false, true}) {
    std::string_view rest = data;
    while (!rest.empty()) {
      vela::RecordView view;
      std::string why;
      const auto outcome = vela::DecodeRecord(rest, verify, &view, &why);
      if (outcome == vela::DecodeOutcome::kCorrupt) Check(!why.empty());
      if (outcome != vela::DecodeOutcome::kRecord) break;
      CheckRecord(view, rest, verify);
      rest.remove_prefix(view.raw.size());
    }
  }
  return 0;
}

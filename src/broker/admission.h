#pragma once

#include <cstdint>
#include <string>

#include "common/message_record.h"
#include "common/status.h"

// The admission step of the send pipeline (DESIGN.md §7.1): validate -> admit -> append -> complete.
namespace vela::broker {

// What an admission stage decided for one message of a send.
struct Admission {
  // Non-empty when the stage rewrote the message: a whole new record in the store format
  // (common/message_record.h) with its own topic, queue and properties and a valid CRC; it is
  // appended in place of the original. Empty: the original bytes are appended untouched.
  std::string rewritten;
  // Receipt extras for the producer (SendReceipt): a timer message's due time, and the broker
  // that can recall it (its full receipt's recall handle is EncodeRecallHandle(*recall_broker,
  // deliver_at_ms, msg_id), built only when a full receipt is sent).
  int64_t deliver_at_ms = 0;
  const std::string* recall_broker = nullptr;
  // Set by the transaction stage: the record is a half message (counted as a transactional send).
  bool half_message = false;
};

// One stage of admission: looks at each validated record of a send before it is appended and may
// rewrite it (a timer message goes to the timer topic, a transactional one to the half topic,
// with the real topic and queue kept in properties). Stages run in the order the broker lists
// them; the first stage that rewrites a record decides for it. A stage that returns an error
// refuses the whole send request (nothing of it is appended). Called on io threads, concurrently:
// implementations are thread-safe, never block on I/O, and leave records they do not handle
// alone (`*admission` untouched) so the plain path stays zero-copy.
class AdmissionStage {
 public:
  virtual ~AdmissionStage() = default;
  // `record` is decoded and validated (properties block, message id); its CRC is checked after
  // the stage, and only when it rewrote the record (a damaged record then refuses the send, so a
  // rewrite never launders damage); `queue_id` is the queue the broker chose or the producer
  // named; `now_ms` the broker's clock for this request.
  virtual Status Admit(const RecordView& record, uint32_t queue_id, int64_t now_ms, Admission* admission) = 0;
};

}  // namespace vela::broker

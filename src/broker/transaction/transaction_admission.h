#pragma once

#include "broker/admission.h"
#include "broker/transaction/transaction_service.h"

namespace vela::broker::transaction {

// The send pipeline's transaction stage: a message with TRAN_MSG=true and its producer group in
// PGROUP is rewritten into a half record of RMQ_SYS_TRANS_HALF_TOPIC (queue 0), its real topic and
// queue kept in REAL_TOPIC / REAL_QID; no consumer sees it until it is committed. Runs before the
// timer stage: a transactional message that also asks for a timer, a TRAN_MSG value other than
// true/false, or TRAN_MSG=true without PGROUP refuses the send (InvalidArgument, named in the text).
// Messages without TRAN_MSG are left alone (zero-copy path). Thread-safe.
class TransactionAdmission final : public AdmissionStage {
 public:
  explicit TransactionAdmission(TransactionService& transactions) : transactions_(transactions) {}
  Status Admit(const RecordView& record, uint32_t queue_id, int64_t now_ms, Admission* admission) override;

 private:
  TransactionService& transactions_;
};

}  // namespace vela::broker::transaction

#include "broker/transaction/transaction_admission.h"

namespace vela::broker::transaction {

Status TransactionAdmission::Admit(const RecordView& record, uint32_t queue_id, int64_t, Admission* admission) {
  if (record.properties.empty()) return Status::OK();
  std::string_view group, transaction_id;
  VELA_ASSIGN_OR_RETURN(bool transactional, IsTransactional(record, &group, &transaction_id));
  if (!transactional) return Status::OK();
  VELA_RETURN_IF_ERROR(transactions_.EnsureTopics());
  VELA_RETURN_IF_ERROR(transactions_.AdmitHalf(transaction_id));
  admission->rewritten = EncodeHalfRecord(record, queue_id);
  admission->half_message = true;
  return Status::OK();
}

}  // namespace vela::broker::transaction

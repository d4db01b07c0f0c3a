#include "ledger/status.h"

namespace fedledger {

const char* Status::CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "Invalid argument";
    case Code::kNotFound: return "Not found";
    case Code::kAlreadyExists: return "Already exists";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IO error";
    case Code::kPermissionDenied: return "Permission denied";
    case Code::kFailedPrecondition: return "Failed precondition";
    case Code::kResourceExhausted: return "Resource exhausted";
    case Code::kUnavailable: return "Unavailable";
    case Code::kInternal: return "Internal error";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  return std::string(CodeName(code_)) + ": " + message_;
}

}  // namespace fedledger

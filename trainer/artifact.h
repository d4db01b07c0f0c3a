// Model artifacts: a framework-independent file of named float32 tensors (contract; see
// docs/TRAINER.md for the byte layout).
//
//   offset 0      8 bytes   magic "FLTNSR01"
//   offset 8      8 bytes   N, the header length, unsigned little-endian
//   offset 16     N bytes   JSON header (UTF-8, no whitespace, keys sorted)
//   offset 16+N   ...       the tensors' raw little-endian float32 values, concatenated in
//                           header order, row-major, no padding; nothing after the last one
//
// The header is {"data_sha256": hex SHA-256 of the data section, "format":
// "fedledger-tensors", "metadata": {string: string}, "tensors": [{"dtype": "float32",
// "name": ..., "nbytes": ..., "offset": ..., "shape": [...]}, ...], "version": 1}.
// Encoding is deterministic: equal artifacts give equal bytes, so the file's SHA-256 (the
// hash recorded on the ledger, equal to `sha256sum FILE`) identifies the model.
#pragma once

#include <map>
#include <string>

#include "ledger/bytes.h"
#include "ledger/status.h"
#include "trainer/weights.h"

namespace fedledger::trainer {

struct Artifact {
  std::map<std::string, std::string> metadata;  // e.g. kind, model config, task names
  Weights weights;
};

// Serialises; fails only on an inconsistent Weights (data size != product of shape).
Result<Bytes> EncodeArtifact(const Artifact& artifact);
// Parses and checks everything: magic, header, dtype, shapes, contiguous offsets, exact total
// size and the data section's SHA-256. Any mismatch is Corruption naming what is wrong.
Result<Artifact> DecodeArtifact(ByteView bytes);

// Writes atomically (temporary file + rename) and returns the file's SHA-256.
Result<Hash32> SaveArtifact(const std::string& path, const Artifact& artifact);
// Reads and decodes; if `expected_sha256` is given the file must hash to it (the ledger's
// record), otherwise Corruption.
Result<Artifact> LoadArtifact(const std::string& path, const Hash32* expected_sha256 = nullptr);

}  // namespace fedledger::trainer

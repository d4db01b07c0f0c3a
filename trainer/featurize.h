// Featurisation with RDKit: SMILES -> standardised parent molecule -> folded Morgan bits,
// plus the molecule's Bemis-Murcko scaffold for scaffold splits.
//
// The molecule is cleaned with RDKit's MolStandardize::cleanup (remove Hs, sanitise,
// disconnect metals, normalise, reionise) and reduced to its largest fragment
// (MolStandardize::LargestFragmentChooser); the fingerprint is RDKit's classic Morgan bit
// vector (getFingerprintAsBitVect: radius 2 = ECFP4-like, no chirality, bond types on) folded
// to `bits` bits. Equivalent Python: Chem.MolFromSmiles, rdMolStandardize.Cleanup,
// LargestFragmentChooser().choose, AllChem.GetMorganFingerprintAsBitVect(m, 2, nBits=bits).
// Thread-safe (no shared mutable state besides RDKit's log switch, set once).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/status.h"

namespace fedledger::trainer {

struct FeaturizeOptions {
  unsigned radius = 2;
  uint32_t bits = 32768;  // folded fingerprint length D; shared by all partners of a task
};

struct Featurized {
  std::vector<uint32_t> on_bits;  // sorted, unique, each < options.bits
  std::string scaffold;           // canonical SMILES of the Murcko scaffold; "" if acyclic
};

// InvalidArgument if RDKit cannot parse or sanitise the SMILES (message says why if known).
Result<Featurized> Featurize(std::string_view smiles, const FeaturizeOptions& options = {});

}  // namespace fedledger::trainer

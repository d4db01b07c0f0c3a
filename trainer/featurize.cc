#include "trainer/featurize.h"

#include <DataStructs/ExplicitBitVect.h>
#include <GraphMol/ChemTransforms/ChemTransforms.h>
#include <GraphMol/Fingerprints/MorganFingerprints.h>
#include <GraphMol/MolStandardize/Fragment.h>
#include <GraphMol/MolStandardize/MolStandardize.h>
#include <GraphMol/RDKitBase.h>
#include <GraphMol/SmilesParse/SmilesParse.h>
#include <GraphMol/SmilesParse/SmilesWrite.h>
#include <RDGeneral/RDLog.h>

#include <memory>
#include <mutex>

namespace fedledger::trainer {
namespace {

void QuietRdkitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { boost::logging::disable_logs("rdApp.*"); });
}

}  // namespace

Result<Featurized> Featurize(std::string_view smiles, const FeaturizeOptions& options) {
  QuietRdkitOnce();
  if (options.bits == 0) return Status::InvalidArgument("fingerprint size must be positive");
  try {
    std::unique_ptr<RDKit::RWMol> raw(RDKit::SmilesToMol(std::string(smiles)));
    if (!raw) return Status::InvalidArgument("RDKit cannot parse SMILES '" + std::string(smiles) + "'");
    std::unique_ptr<RDKit::RWMol> clean(RDKit::MolStandardize::cleanup(*raw));
    if (!clean) return Status::InvalidArgument("standardisation failed");
    RDKit::MolStandardize::LargestFragmentChooser chooser;
    std::unique_ptr<RDKit::ROMol> parent(chooser.choose(*clean));
    if (!parent || parent->getNumAtoms() == 0)
      return Status::InvalidArgument("no atoms left after standardisation");
    std::unique_ptr<ExplicitBitVect> fp(
        RDKit::MorganFingerprints::getFingerprintAsBitVect(*parent, options.radius, options.bits));
    Featurized out;
    std::vector<int> on;
    fp->getOnBits(on);
    out.on_bits.assign(on.begin(), on.end());
    std::unique_ptr<RDKit::ROMol> scaffold(RDKit::MurckoDecompose(*parent));
    if (scaffold && scaffold->getNumAtoms() > 0) out.scaffold = RDKit::MolToSmiles(*scaffold);
    return out;
  } catch (const std::exception& e) {
    return Status::InvalidArgument("RDKit rejects SMILES '" + std::string(smiles) + "': " + e.what());
  }
}

}  // namespace fedledger::trainer

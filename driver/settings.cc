#include "driver/settings.h"

#include <charconv>
#include <cmath>
#include <string>
#include <string_view>

namespace fedledger::driver {

namespace {

template <typename T>
bool ParseInt(std::string_view s, T lo, T hi, T* out) {
  T v{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  *out = v;
  return true;
}

bool ParseDouble(std::string_view s, double lo, double hi, double* out) {
  double v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || !std::isfinite(v) || v < lo || v > hi) {
    return false;
  }
  *out = v;
  return true;
}

}  // namespace

Result<TaskSettings> SettingsFromSpec(const TaskSpec& spec) {
  const std::string where = "task '" + spec.task_id + "': ";
  if (spec.model != kMlpTrunkModel) {
    return Status::InvalidArgument(where + "model '" + spec.model +
                                   "' is not one this trainer builds (it builds '" +
                                   kMlpTrunkModel + "')");
  }
  TaskSettings s;
  for (const Setting& kv : spec.settings) {
    const std::string& k = kv.key;
    const std::string& v = kv.value;
    auto bad = [&](const char* want) {
      return Status::InvalidArgument(where + "setting '" + k + "' = '" + v + "': must be " + want);
    };
    double d = 0;
    if (k == "bits") {
      if (!ParseInt<uint32_t>(v, 64, 1u << 24, &s.bits)) return bad("an integer in 64..16777216");
    } else if (k == "hidden") {
      s.hidden.clear();
      std::string_view rest = v;
      while (true) {
        size_t comma = rest.find(',');
        int h = 0;
        if (!ParseInt<int>(rest.substr(0, comma), 1, 65536, &h)) {
          return bad("layer sizes in 1..65536 separated by commas, e.g. \"512,128\"");
        }
        s.hidden.push_back(h);
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
    } else if (k == "dropout") {
      if (!ParseDouble(v, 0, 0.95, &d)) return bad("a number in 0..0.95");
      s.dropout = static_cast<float>(d);
    } else if (k == "lr") {
      if (!ParseDouble(v, 1e-9, 10, &d)) return bad("a number in 1e-9..10");
      s.lr = static_cast<float>(d);
    } else if (k == "batch_size") {
      if (!ParseInt<int>(v, 1, 1 << 20, &s.batch_size)) return bad("an integer in 1..1048576");
    } else if (k == "local_epochs") {
      if (!ParseInt<int>(v, 1, 10000, &s.local_epochs)) return bad("an integer in 1..10000");
    } else if (k == "seed") {
      if (!ParseInt<uint64_t>(v, 0, UINT64_MAX, &s.seed)) return bad("a non-negative integer");
    } else if (k == "valid_fraction") {
      if (!ParseDouble(v, 0.01, 0.5, &s.valid_fraction)) return bad("a number in 0.01..0.5");
    } else if (k == "test_fraction") {
      if (!ParseDouble(v, 0.01, 0.5, &s.test_fraction)) return bad("a number in 0.01..0.5");
    } else if (k == "secagg.rows") {
      if (v != "union" && v != "all") return bad("\"union\" or \"all\"");
      s.union_rows = v == "union";
    } else if (k == "secagg.clip" || k == "secagg.scale") {
      // Read and checked by secure aggregation (FixedPointForTask).
    } else {
      return Status::InvalidArgument(
          where + "setting '" + k +
          "' is not one this trainer knows (bits, hidden, dropout, lr, batch_size, "
          "local_epochs, seed, valid_fraction, test_fraction, secagg.clip, secagg.scale, "
          "secagg.rows)");
    }
  }
  if (s.valid_fraction + s.test_fraction > 0.8) {
    return Status::InvalidArgument(where + "valid_fraction + test_fraction must be <= 0.8");
  }
  return s;
}

}  // namespace fedledger::driver

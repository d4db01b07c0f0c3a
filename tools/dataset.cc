// fedledger dataset register / list: a partner registers a data file on the ledger by its
// SHA-256, row count and schema. The file itself never leaves the partner's machine: only
// those three facts (and an optional description) are signed and submitted.
//
// Files: .csv or .csv.gz (gzip, read with zlib), comma separated, a header line naming the
// columns, one record per line (the trainer's format, trainer/csv.h). The hash is over the
// file's bytes as they lie on disk (`sha256sum FILE` prints the same); rows are the non-empty
// lines after the header; the schema is the header's column names joined by commas. A record
// whose field count differs from the header's is refused, naming its line.
#include <zlib.h>

#include <cstdio>
#include <fstream>
#include <memory>

#include "ledger/describe.h"
#include "ledger/encoding.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "tools/node_client.h"

namespace fedledger::cli {
namespace {

using nlohmann::json;

struct FileSummary {
  Hash32 sha256;
  uint64_t rows = 0;
  std::string schema;
};

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}


// Splits one CSV line into fields (double quotes, "" inside quotes is a quote).
std::vector<std::string> SplitCsv(const std::string& line) {
  std::vector<std::string> out(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        out.back() += '"';
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        out.back() += c;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

FileSummary Summarize(const std::string& path) {
  if (!EndsWith(path, ".csv") && !EndsWith(path, ".csv.gz")) {
    throw Failure("--file " + path + ": expected a .csv or .csv.gz file", 2);
  }
  RefuseDirectory(path, "a data file");
  FileSummary s;
  auto sha = Sha256File(path);
  if (!sha.ok()) {
    throw Failure(sha.status().message(), sha.status().code() == Status::Code::kNotFound ? 2 : 3);
  }
  s.sha256 = *sha;
  // gzread reads plain files as they are, so one reader serves both.
  std::unique_ptr<gzFile_s, int (*)(gzFile)> gz(gzopen(path.c_str(), "rb"), gzclose);
  if (!gz) throw Failure("cannot open " + path, 2);
  // gzread would read a plain file named .csv.gz as it is; say what it really is instead.
  if (EndsWith(path, ".gz") && gzdirect(gz.get()) == 1) {
    throw Failure(path + ": not a gzip file (name a plain CSV file .csv)", 2);
  }
  std::string pending;
  std::vector<char> buf(1 << 20);
  size_t header_fields = 0;
  uint64_t line_no = 0;
  bool have_header = false;
  auto take_line = [&](std::string line) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) return;
    std::vector<std::string> fields = SplitCsv(line);
    if (!have_header) {
      have_header = true;
      header_fields = fields.size();
      for (const std::string& f : fields) s.schema += (s.schema.empty() ? "" : ",") + f;
      return;
    }
    if (fields.size() != header_fields) {
      throw Failure(path + ": line " + std::to_string(line_no) + " has " +
                        std::to_string(fields.size()) + " fields, the header has " +
                        std::to_string(header_fields),
                    2);
    }
    ++s.rows;
  };
  for (;;) {
    int n = gzread(gz.get(), buf.data(), static_cast<unsigned>(buf.size()));
    if (n < 0) {
      int err = 0;
      const char* msg = gzerror(gz.get(), &err);
      throw Failure(path + ": cannot decompress: " + (msg ? msg : "error"), 2);
    }
    if (n == 0) break;
    pending.append(buf.data(), static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      take_line(pending.substr(start, nl - start));
      start = nl + 1;
    }
    pending.erase(0, start);
  }
  if (!pending.empty()) take_line(std::move(pending));
  if (!have_header) throw Failure(path + ": the file is empty (no header line)", 2);
  return s;
}

std::string DefaultId(const std::string& path) {
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  for (const char* ext : {".csv.gz", ".csv"}) {
    if (EndsWith(base, ext)) return base.substr(0, base.size() - std::string(ext).size());
  }
  return base;
}

void AddRegister(CLI::App* dataset) {
  auto* cmd = dataset->add_subcommand(
      "register",
      "Register a data file on the ledger by its SHA-256, row count and schema (the file\n"
      "itself never leaves this machine); waits for the commit");
  struct Args {
    std::string file, key, node = "http://127.0.0.1:26657", id, description;
    uint64_t timeout_ms = 30000;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--file", a->file, "The data file (.csv or .csv.gz)")->required();
  cmd->add_option("--key", a->key, "The partner's key file")->required();
  cmd->add_option("--node", a->node, "Validator API URL")->capture_default_str();
  cmd->add_option("--id", a->id, "Dataset id (default: the file name without .csv/.csv.gz)");
  cmd->add_option("--description", a->description, "Free text stored with the registration");
  AddUnsignedOption(cmd, "--timeout-ms", &a->timeout_ms,
                    "Give up waiting for the commit after this long", 1, 120000)
      ->default_str(std::to_string(a->timeout_ms));
  cmd->callback([a] {
    SecretKey key = Unwrap(LoadSecretKey(a->key));
    std::string id = a->id.empty() ? DefaultId(a->file) : a->id;
    // Dataset ids are identifiers (docs/FORMAT.md); refuse a bad one before reading the file.
    Status valid = ValidateIdentifier("dataset id", id);
    if (!valid.ok()) {
      throw Failure(valid.message() + (a->id.empty() ? " (taken from the file name; pass --id)" : ""), 2);
    }
    FileSummary f = Summarize(a->file);
    DatasetRegisterPayload p{id, f.sha256, f.rows, f.schema, a->description};
    NodeClient node(a->node);
    auto c = node.SubmitAndWait(key, p, a->timeout_ms);
    std::printf("dataset %s registered at height %llu (log index %llu)\n", id.c_str(),
                static_cast<unsigned long long>(c.height), static_cast<unsigned long long>(c.index));
    std::printf("  sha256  %s\n  rows    %s\n  schema  %s\n", f.sha256.Hex().c_str(),
                WithCommas(f.rows).c_str(), f.schema.c_str());
  });
}

void AddList(CLI::App* dataset) {
  auto* cmd = dataset->add_subcommand("list", "Datasets registered on the ledger");
  auto node = std::make_shared<std::string>("http://127.0.0.1:26657");
  auto as_json = std::make_shared<bool>(false);
  cmd->add_option("--node", *node, "Validator API URL")->capture_default_str();
  cmd->add_flag("--json", *as_json, "Print the node's JSON answer");
  cmd->callback([node, as_json] {
    const json row = {{"owner", "string"},
                      {"dataset_id", "string"},
                      {"rows", "uint"},
                      {"content_hash", "string"},
                      {"schema", "string"}};
    json j = NodeClient(*node).Get(
        "/datasets", *as_json ? json{{"datasets", "array"}} : json{{"datasets", json::array({row})}},
        "dataset list");
    if (*as_json) return PrintJson(j);
    std::printf("%-12s %-20s %-12s %-18s %s\n", "OWNER", "DATASET", "ROWS", "SHA256", "SCHEMA");
    for (const json& d : j["datasets"]) {
      std::string schema = d["schema"].get<std::string>();
      if (schema.size() > 60) schema = schema.substr(0, 57) + "...";
      std::printf("%-12s %-20s %-12s %-18s %s\n", d["owner"].get<std::string>().c_str(),
                  d["dataset_id"].get<std::string>().c_str(),
                  WithCommas(d["rows"].get<uint64_t>()).c_str(),
                  (d["content_hash"].get<std::string>().substr(0, 16) + "..").c_str(),
                  schema.c_str());
    }
    std::printf("(%zu %s)\n", j["datasets"].size(), j["datasets"].size() == 1 ? "dataset" : "datasets");
  });
}

Registrar reg("55-dataset", [](CLI::App& app) {
  auto* dataset = app.add_subcommand("dataset", "A partner's datasets on the ledger");
  dataset->require_subcommand(1);
  AddRegister(dataset);
  AddList(dataset);
});

}  // namespace
}  // namespace fedledger::cli

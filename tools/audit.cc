// fedledger audit: the compliance officer's commands. Human output by default, --json for
// machines. Nothing here writes to a store.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <thread>

#include "ledger/audit.h"
#include "ledger/describe.h"
#include "ledger/export.h"
#include "ledger/strict_json.h"
#include "tools/common.h"
#include "tools/flags.h"
#include "tools/output_file.h"

namespace fedledger::cli {
namespace {

using nlohmann::json;

std::optional<Hash32> ParseAnchor(const std::string& hex) {
  if (hex.empty()) return std::nullopt;
  auto h = Hash32::FromHex(hex);
  if (!h.ok()) throw Failure("--genesis-hash: " + h.status().message(), 2);
  return *h;
}

json SummaryJson(const AuditSummary& s, const KeyNames& names) {
  json signers = json::array(), kinds = json::object();
  for (const auto& [k, n] : s.entries_by_signer) {
    signers.push_back({{"key", k.Hex()}, {"name", names.Name(k)}, {"entries", n}});
  }
  for (const auto& [k, n] : s.entries_by_kind) kinds[EntryKindName(k)] = n;
  return {{"ok", true},
          {"chain_id", s.chain_id},
          {"genesis_hash", s.genesis_hash.Hex()},
          {"blocks", s.blocks},
          {"entries", s.entries},
          {"log_root", s.log_root.Hex()},
          {"head_hash", s.head_hash.Hex()},
          {"validators", s.validators},
          {"partners", s.partners},
          {"signers", signers},
          {"entries_by_kind", kinds},
          {"first_time", FormatTimeMs(s.first_time_ms)},
          {"last_time", FormatTimeMs(s.last_time_ms)},
          {"signatures_checked", s.signatures_checked},
          {"index_behind", s.index_behind},
          {"seconds", s.seconds}};
}

void PrintSummary(const AuditSummary& s, const KeyNames& names, const char* what) {
  std::printf("%s verified: every signature, block hash, certificate and Merkle root checks out\n", what);
  std::printf("  chain        %s\n", s.chain_id.c_str());
  std::printf("  genesis      %s\n", s.genesis_hash.Hex().c_str());
  std::printf("  blocks       %s (heights 0..%llu)\n", WithCommas(s.blocks).c_str(),
              static_cast<unsigned long long>(s.blocks - 1));
  std::printf("  entries      %s\n", WithCommas(s.entries).c_str());
  std::printf("  log root     %s (size %s)\n", s.log_root.Hex().c_str(), WithCommas(s.entries).c_str());
  std::printf("  head         %s\n", s.head_hash.Hex().c_str());
  std::printf("  time span    %s .. %s\n", FormatTimeMs(s.first_time_ms).c_str(),
              FormatTimeMs(s.last_time_ms).c_str());
  std::printf("  validators   %zu, partners %zu\n", s.validators, s.partners);
  std::printf("  signers      %zu:", s.entries_by_signer.size());
  for (const auto& [k, n] : s.entries_by_signer) {
    std::printf(" %s (%s)", names.Name(k).c_str(), WithCommas(n).c_str());
  }
  std::printf("\n  by kind     ");
  for (const auto& [k, n] : s.entries_by_kind) {
    std::printf(" %s %s", EntryKindName(k), WithCommas(n).c_str());
  }
  std::printf("\n  checked      %s signatures in %.2f s (%s/s)\n",
              WithCommas(s.signatures_checked).c_str(), s.seconds,
              WithCommas(static_cast<uint64_t>(s.signatures_checked / std::max(s.seconds, 1e-9))).c_str());
  if (s.index_behind > 0) {
    std::printf("  note         the index database is %s block(s) behind the log: its node stopped "
                "before writing them; it writes them when it next opens the store\n",
                WithCommas(s.index_behind).c_str());
  }
}

void Fail(const Status& s, bool as_json) {
  if (as_json) {
    PrintJson({{"ok", false}, {"error", s.message()}});
    std::fflush(stdout);
  }
  throw Failure((s.code() == Status::Code::kCorruption ? "verification FAILED: " : "") +
                    s.message(), ExitCodeFor(s));
}

void AddVerify(CLI::App* audit) {
  auto* cmd = audit->add_subcommand(
      "verify", "Re-derive every signature, block hash, certificate, Merkle root and index from\n"
                "the genesis; exit 0 if all hold, 1 naming the first bad block or entry");
  struct Args {
    std::string dir, anchor;
    bool json = false;
    unsigned threads = 0;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--data-dir", a->dir, "Node data directory or a LevelDB store")->required();
  cmd->add_option("--genesis-hash", a->anchor, "Require this genesis hash (the trust anchor)");
  AddUnsignedOption(cmd, "--threads", &a->threads,
                    "Signature-checking threads (default: all cores)", 0, 1024);
  cmd->add_flag("--json", a->json, "Machine-readable output");
  cmd->callback([a] {
    AuditOptions o;
    o.threads = a->threads;
    o.expected_genesis = ParseAnchor(a->anchor);
    Progress progress("verifying");
    o.progress = [&](uint64_t d, uint64_t t) { progress.Update(d, t); };
    auto summary = AuditStore(LedgerPath(a->dir), o);
    progress.Done();
    if (!summary.ok()) Fail(summary.status(), a->json);
    KeyNames names(summary->genesis);
    if (a->json) {
      PrintJson(SummaryJson(*summary, names));
    } else {
      PrintSummary(*summary, names, "ledger");
    }
  });
}

void AddLog(CLI::App* audit) {
  auto* cmd = audit->add_subcommand("log", "The ledger's history as a readable table");
  struct Args {
    std::string dir, kind, signer, task, since, until;
    uint64_t limit = UINT64_MAX;
    bool json = false;
  };
  auto a = std::make_shared<Args>();
  cmd->add_option("--data-dir", a->dir, "Node data directory or a LevelDB store")->required();
  cmd->add_option("--kind", a->kind, "Only entries of this kind (e.g. TASK_APPROVE, data-access)");
  cmd->add_option("--signer", a->signer, "Only entries by this key (hex) or member name");
  cmd->add_option("--task", a->task, "Only entries of this task");
  cmd->add_option("--since", a->since, "From this time (2026-11-23, 2026-11-23T16:00:00Z, or ms)");
  cmd->add_option("--until", a->until, "Up to this time, inclusive");
  AddUnsignedOption(cmd, "--limit", &a->limit, "At most this many rows (default: all)", 1);
  cmd->add_flag("--json", a->json, "Machine-readable output (a JSON array)");
  cmd->callback([a] {
    auto store = OpenStore(a->dir);
    KeyNames names(store->genesis());
    EntryQuery q;
    q.limit = a->limit;
    if (!a->kind.empty()) q.kind = Unwrap(ParseEntryKind(a->kind));
    if (!a->signer.empty()) q.signer = Unwrap(names.Resolve(a->signer));
    if (!a->task.empty()) q.task_id = a->task;
    if (!a->since.empty()) q.since_ms = Unwrap(ParseTimeMs(a->since));
    if (!a->until.empty()) q.until_ms = Unwrap(ParseTimeMs(a->until));
    // Rows arrive in log order, so the block of each row is found by walking forward.
    uint64_t block_height = 0, block_end = 0;
    auto height_of = [&](uint64_t index) {
      if (index >= block_end) {
        block_height = Unwrap(store->HeightOfEntry(index));
        block_end = Unwrap(store->GetBlockRecord(block_height)).header.log_size;
      }
      return block_height;
    };
    json rows = json::array();
    uint64_t count = 0;
    if (!a->json) {
      std::printf("%-8s %-7s %-24s %-16s %-10s %s\n", "INDEX", "BLOCK", "TIME (UTC)", "KIND",
                  "SIGNER", "DETAILS");
    }
    Check(store->QueryEntries(q, [&](uint64_t index, const Entry& e) {
      uint64_t h = height_of(index);
      if (a->json) {
        json j = EntryToJson(e, names);
        j["index"] = index;
        j["height"] = h;
        rows.push_back(std::move(j));
      } else {
        std::printf("%-8llu %-7llu %-24s %-16s %-10s %s\n", static_cast<unsigned long long>(index),
                    static_cast<unsigned long long>(h), FormatTimeMs(e.timestamp_ms()).c_str(),
                    EntryKindName(e.kind()), names.Name(e.signer()).c_str(),
                    DescribePayload(e.payload(), names).c_str());
      }
      ++count;
      return true;
    }));
    if (a->json) {
      PrintJson(rows);
    } else {
      std::printf("(%s %s)\n", WithCommas(count).c_str(), count == 1 ? "entry" : "entries");
    }
  });
}

void AddProofs(CLI::App* audit) {
  auto* prove = audit->add_subcommand(
      "prove", "RFC 9162 inclusion proof of an entry, with the signed block header it is\n"
               "checked against (JSON)");
  struct Args {
    std::string dir, out;
    bool force = false;
    uint64_t entry = 0, from = 0, to = 0;
    std::optional<uint64_t> tree_size;  // not given: the head
  };
  auto a = std::make_shared<Args>();
  prove->add_option("--data-dir", a->dir, "Node data directory or a LevelDB store")->required();
  AddUnsignedOption(prove, "--entry", &a->entry, "Global log index of the entry")->required();
  AddUnsignedOption(prove, "--tree-size", &a->tree_size,
                    "Prove against this log size (a block boundary; default: the head)", 1);
  prove->add_option("--out", a->out, "Write the proof to this file instead of stdout");
  AddForceFlag(prove, &a->force);
  // An existing --out file is refused before any work, and the proof is renamed into place
  // only once written whole (tools/output_file.h).
  auto emit = [a](const std::function<Result<json>()>& make) {
    if (a->out.empty()) {
      PrintJson(Unwrap(make()));
      return;
    }
    Check(CheckOutputPath(a->out, a->force));
    json doc = Unwrap(make());
    Check(WriteOutputFile(a->out, doc.dump(2) + "\n", a->force));
  };
  prove->callback([a, emit] {
    auto store = OpenStore(a->dir);
    // MakeInclusionProofDoc takes 0 for the head; --tree-size 0 is refused above.
    emit([&] { return MakeInclusionProofDoc(*store, a->entry, a->tree_size.value_or(0)); });
  });

  auto* cons = audit->add_subcommand(
      "consistency", "RFC 9162 consistency proof between two log sizes (block boundaries), with\n"
                     "both signed block headers (JSON)");
  cons->add_option("--data-dir", a->dir, "Node data directory or a LevelDB store")->required();
  AddUnsignedOption(cons, "--from", &a->from, "Older log size")->required();
  AddUnsignedOption(cons, "--to", &a->to, "Newer log size")->required();
  cons->add_option("--out", a->out, "Write the proof to this file instead of stdout");
  AddForceFlag(cons, &a->force);
  cons->callback([a, emit] {
    auto store = OpenStore(a->dir);
    emit([&] { return MakeConsistencyProofDoc(*store, a->from, a->to); });
  });

  auto* check = audit->add_subcommand(
      "check-proof", "Verify a proof file from `audit prove` or `audit consistency` against its\n"
                     "signed block header(s), offline");
  auto file = std::make_shared<std::string>();
  auto anchor = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  check->add_option("FILE", *file, "Proof file")->required();
  check->add_option("--genesis-hash", *anchor, "Require this genesis hash (the trust anchor)");
  check->add_flag("--json", *as_json, "Machine-readable output");
  check->callback([file, anchor, as_json] {
    std::string text = ReadInputFile(*file, "a proof file");
    // Strict: a key given twice could be read one way here and another way by the reader.
    auto doc = ParseJsonStrict(text, *file);
    if (!doc.ok()) throw Failure(doc.status().message(), 2);
    auto r = CheckProofDoc(*doc, ParseAnchor(*anchor));
    if (!r.ok()) Fail(r.status(), *as_json);
    if (*as_json) {
      PrintJson({{"ok", true}, {"type", r->type}, {"chain_id", r->chain_id},
                 {"genesis_hash", r->genesis_hash.Hex()}, {"tree_size", r->tree_size},
                 {"from_size", r->from_size}, {"leaf_index", r->leaf_index},
                 {"block_height", r->head_height}});
      return;
    }
    if (r->type == "inclusion") {
      std::printf("proof OK: entry %llu (%s, leaf %s) is in the log of size %llu signed at block %llu\n",
                  static_cast<unsigned long long>(r->leaf_index), EntryKindName(r->entry->kind()),
                  r->entry->leaf_hash().ShortHex().c_str(),
                  static_cast<unsigned long long>(r->tree_size),
                  static_cast<unsigned long long>(r->head_height));
    } else {
      std::printf("proof OK: the log of size %llu is a prefix of the log of size %llu signed at block %llu\n",
                  static_cast<unsigned long long>(r->from_size),
                  static_cast<unsigned long long>(r->tree_size),
                  static_cast<unsigned long long>(r->head_height));
    }
    std::printf("chain %s, genesis %s%s\n", r->chain_id.c_str(), r->genesis_hash.Hex().c_str(),
                anchor->empty() ? " (pass --genesis-hash to pin it)" : " (pinned)");
  });
}

void AddExport(CLI::App* audit) {
  auto* exp = audit->add_subcommand(
      "export", "Write a self-contained JSON Lines export (genesis, blocks, entries,\n"
                "certificates) that verify-export checks without the store");
  auto dir = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto force = std::make_shared<bool>(false);
  exp->add_option("--data-dir", *dir, "Node data directory or a LevelDB store")->required();
  exp->add_option("--out", *out, "Export file to create")->required();
  AddForceFlag(exp, force.get());
  exp->callback([dir, out, force] {
    Check(CheckOutputPath(*out, *force));
    auto store = OpenStore(*dir);
    // Written beside --out under a temporary name and renamed when complete: a failed export
    // leaves nothing behind (tools/output_file.h).
    OutputFile file = Unwrap(OutputFile::Create(*out, *force));
    {
      std::ofstream f(file.temp_path());
      if (!f) throw Failure("cannot write " + file.temp_path(), 3);
      Progress progress("exporting");
      Status st = ExportStore(*store, f, [&](uint64_t d, uint64_t t) { progress.Update(d, t); });
      if (!f) throw Failure("cannot write " + *out + " (disk full or file too large?)", 3);
      Check(st);
      f.close();
      if (!f) throw Failure("cannot write " + *out, 3);
    }
    Check(file.Commit());
    BlockRecord head = store->head();
    std::printf("exported %s blocks, %s entries to %s (log root %s)\n",
                WithCommas(head.header.height + 1).c_str(), WithCommas(head.header.log_size).c_str(),
                out->c_str(), head.header.log_root.Hex().c_str());
  });

  auto* ver = audit->add_subcommand("verify-export", "Verify an export file, offline");
  auto file = std::make_shared<std::string>();
  auto anchor = std::make_shared<std::string>();
  auto as_json = std::make_shared<bool>(false);
  auto threads = std::make_shared<unsigned>(0);
  ver->add_option("FILE", *file, "Export file")->required();
  ver->add_option("--genesis-hash", *anchor, "Require this genesis hash (the trust anchor)");
  AddUnsignedOption(ver, "--threads", threads.get(),
                    "Signature-checking threads (default: all cores)", 0, 1024);
  ver->add_flag("--json", *as_json, "Machine-readable output");
  ver->callback([file, anchor, as_json, threads] {
    RefuseDirectory(*file, "an export file");
    std::ifstream f(*file);
    if (!f) throw Failure("cannot open " + *file, 2);
    AuditOptions o;
    o.threads = *threads;
    o.expected_genesis = ParseAnchor(*anchor);
    Progress progress("verifying");
    o.progress = [&](uint64_t d, uint64_t t) { progress.Update(d, t); };
    auto summary = VerifyExport(f, o);
    progress.Done();
    if (!summary.ok()) Fail(summary.status(), *as_json);
    KeyNames names;  // names come from the verified genesis below
    std::ifstream again(*file);
    std::string first, genesis_line;
    std::getline(again, first);
    std::getline(again, genesis_line);
    json g = json::parse(genesis_line, nullptr, false);
    if (!g.is_discarded() && g.contains("entries") && !g["entries"].empty()) {
      auto b = FromHex(g["entries"][0].get<std::string>());
      if (b.ok()) {
        auto e = Entry::Decode(*b);
        if (e.ok() && e->As<GenesisPayload>()) names = KeyNames(*e->As<GenesisPayload>());
      }
    }
    if (*as_json) {
      PrintJson(SummaryJson(*summary, names));
    } else {
      PrintSummary(*summary, names, "export");
    }
  });
}

Registrar reg("20-audit", [](CLI::App& app) {
  auto* audit = app.add_subcommand(
      "audit", "Compliance officer's commands: verify, query, prove and export the ledger");
  audit->require_subcommand(1);
  AddVerify(audit);
  AddLog(audit);
  AddProofs(audit);
  AddExport(audit);
});

}  // namespace
}  // namespace fedledger::cli

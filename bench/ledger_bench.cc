// Ledger benchmark. In one run, side by side with the machine's own limits measured by this
// same program:
//   limits:  libsecp256k1 BIP-340 verifications/s on one core and on all cores; SHA-256 MB/s
//   append:  signed entries committed into a synced LevelDB store (signatures verified on
//            commit, as a validator does), entries/s and as a share of the signature limit
//   audit:   full `audit verify` of a store with N entries (default 10^6), entries/s and share
//   proofs:  inclusion-proof latency at that size (median and p99 over random entries)
// Usage: ledger_bench [--entries N] [--dir DIR] [--keep]
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/audit.h"
#include "ledger/devchain.h"
#include "ledger/store.h"

using namespace fedledger;
using Clock = std::chrono::steady_clock;

namespace {

double Secs(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct SigSample {
  PubKey key;
  Hash32 digest;
  Signature sig;
};

std::vector<SigSample> MakeSigs(size_t n) {
  std::vector<SigSample> v(n);
  SecretKey k = SecretKey::FromSeed("bench");
  for (size_t i = 0; i < n; ++i) {
    v[i].key = k.pubkey();
    v[i].digest = Sha256("msg" + std::to_string(i));
    v[i].sig = k.Sign(v[i].digest);
  }
  return v;
}

double VerifyRate(const std::vector<SigSample>& sigs, unsigned threads) {
  std::atomic<size_t> ok{0};
  auto t0 = Clock::now();
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      size_t local = 0;
      for (size_t i = t; i < sigs.size(); i += threads) {
        local += VerifySignature(sigs[i].key, sigs[i].digest, sigs[i].sig);
      }
      ok += local;
    });
  }
  for (auto& th : pool) th.join();
  double s = Secs(t0, Clock::now());
  if (ok != sigs.size()) std::abort();
  return sigs.size() / s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t entries = 1000000;
  std::string dir = "/tmp/fedledger-bench";
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--entries") && i + 1 < argc) entries = std::stoull(argv[++i]);
    else if (!std::strcmp(argv[i], "--dir") && i + 1 < argc) dir = argv[++i];
    else if (!std::strcmp(argv[i], "--keep")) keep = true;
    else {
      std::fprintf(stderr, "usage: ledger_bench [--entries N] [--dir DIR] [--keep]\n");
      return 2;
    }
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("ledger_bench: %llu entries, %u cores, dir %s\n",
              static_cast<unsigned long long>(entries), cores, dir.c_str());

  // ---- machine limits (median of 3) ----
  auto sigs = MakeSigs(20000);
  std::vector<double> one, all;
  for (int r = 0; r < 3; ++r) {
    one.push_back(VerifyRate(sigs, 1));
    all.push_back(VerifyRate(sigs, cores));
  }
  double sig1 = Median(one), sigN = Median(all);
  std::vector<uint8_t> buf(64 << 20, 0x5a);
  std::vector<double> sha;
  for (int r = 0; r < 3; ++r) {
    auto t0 = Clock::now();
    Hash32 h = Sha256(ByteView(buf.data(), buf.size()));
    double s = Secs(t0, Clock::now());
    if (h.IsZero()) return 1;
    sha.push_back(buf.size() / s / 1e6);
  }
  std::printf("limit  verify 1 core     %10.0f sig/s\n", sig1);
  std::printf("limit  verify %u cores    %10.0f sig/s  (%.2fx one core)\n", cores, sigN, sigN / sig1);
  std::printf("limit  sha256            %10.0f MB/s\n", Median(sha));

  // ---- append: signed entries committed with signature checks, synced ----
  {
    std::filesystem::remove_all(dir + "-append");
    DevChainOptions o;
    o.entries = 0;
    o.write_keys = false;
    auto store = SeedDevChain(dir + "-append", o).value();
    SecretKey op = DevOperatorKey("dev");
    std::vector<SecretKey> vals;
    for (int i = 0; i < 4; ++i) vals.push_back(DevValidatorKey("dev", i));
    const int kBlocks = 40, kPer = 1000;
    std::vector<std::vector<Entry>> blocks(kBlocks);
    uint64_t nonce = store->LastNonce(op.pubkey());
    for (auto& b : blocks) {
      for (int i = 0; i < kPer; ++i) {
        EntryBody body;
        body.chain_id = store->chain_id();
        body.nonce = ++nonce;
        body.timestamp_ms = 1767225600000 + nonce;
        body.payload = ModelUpdatePayload{"task-bench", 1, Sha256(std::to_string(nonce)), 1000, 4096};
        b.push_back(Entry::Sign(body, op).value());
      }
    }
    double commit_secs = 0;
    for (auto& es : blocks) {
      Block b;
      b.entries = std::move(es);
      b.header = store->NextHeader(b.entries, 1767225600000 + nonce, vals[0].pubkey());
      Certificate c = DevCertificate(store->chain_id(), b.header, vals);
      auto t0 = Clock::now();
      if (!store->Commit(b, c).ok()) return 1;
      commit_secs += Secs(t0, Clock::now());
    }
    double rate = kBlocks * kPer / commit_secs;
    std::printf("append verified+synced   %10.0f entries/s  = %.0f%% of the 1-core signature limit "
                "(Commit verifies on the calling thread)\n", rate, 100 * rate / sig1);
    std::filesystem::remove_all(dir + "-append");
  }

  // ---- audit verify over N entries ----
  std::filesystem::remove_all(dir);
  {
    DevChainOptions o;
    o.entries = entries;
    o.block_entries = 1000;
    o.write_keys = false;
    o.store.verify_signatures_on_commit = false;
    auto t0 = Clock::now();
    auto store = SeedDevChain(dir, o).value();
    std::printf("seed   %llu entries in %.1f s (signing on %u cores)\n",
                static_cast<unsigned long long>(entries), Secs(t0, Clock::now()), cores);
  }
  std::vector<double> audit_rates;
  for (int r = 0; r < 3; ++r) {
    AuditOptions ao;
    auto summary = AuditStore(dir + "/ledger", ao);
    if (!summary.ok()) {
      std::fprintf(stderr, "audit failed: %s\n", summary.status().ToString().c_str());
      return 1;
    }
    audit_rates.push_back(summary->entries / summary->seconds);
    std::printf("audit  run %d: %llu entries in %.2f s\n", r + 1,
                static_cast<unsigned long long>(summary->entries), summary->seconds);
  }
  double audit = Median(audit_rates);
  std::printf("audit  verify (median of 3) %7.0f entries/s  = %.0f%% of the %u-core signature limit\n",
              audit, 100 * audit / sigN, cores);

  // ---- inclusion proofs at N ----
  {
    auto store = Store::Open(dir + "/ledger").value();
    uint64_t n = store->log_size();
    Hash32 root = store->log_root();
    std::mt19937_64 rng(42);
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      uint64_t idx = rng() % n;
      auto t0 = Clock::now();
      auto proof = store->InclusionProof(idx, n);
      double s = Secs(t0, Clock::now());
      if (!proof.ok()) return 1;
      us.push_back(s * 1e6);
      if (i < 50 && !VerifyInclusionProof(store->GetEntry(idx)->leaf_hash(), idx, n, *proof, root).ok()) {
        return 1;
      }
    }
    std::sort(us.begin(), us.end());
    std::printf("proof  inclusion at %llu entries: median %.0f us, p99 %.0f us, max %.0f us\n",
                static_cast<unsigned long long>(n), us[us.size() / 2], us[us.size() * 99 / 100],
                us.back());
  }
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}

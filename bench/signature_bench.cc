// BIP-340 batch verification (VerifySignatures, as the nodes and audit call it) against
// one-at-a-time verification (libsecp256k1), side by side in one run on one core: microseconds
// per signature for several batch sizes and key mixes, medians of alternating repetitions, and
// the speed-up. First, signing: Sign() (aux randomness from a per-thread stream) beside
// SignDeterministic() (no aux: the floor) and a getrandom call plus a signature (what Sign()
// cost when it drew aux from the kernel each time).
// Usage: signature_bench [--reps N] [--sizes 1,2,4,...]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "ledger/crypto.h"

using namespace fedledger;
using Clock = std::chrono::steady_clock;

namespace {

struct Sample {
  PubKey key;
  Hash32 digest;
  Signature sig;
};

std::vector<Sample> MakeSamples(size_t n, size_t keys, const std::string& key_seed = "sigbench-") {
  std::vector<SecretKey> sks;
  for (size_t k = 0; k < keys; ++k) sks.push_back(SecretKey::FromSeed(key_seed + std::to_string(k)));
  std::vector<Sample> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i].key = sks[i % keys].pubkey();
    v[i].digest = Sha256("msg" + std::to_string(i));
    v[i].sig = sks[i % keys].Sign(v[i].digest);
  }
  return v;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  std::vector<size_t> sizes{1, 2, 4, 8, 16, 32, 64, 128, 256};
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--reps") && i + 1 < argc) {
      reps = std::stoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--sizes") && i + 1 < argc) {
      sizes.clear();
      std::string s = argv[++i];
      for (size_t p = 0; p < s.size();) {
        size_t q = s.find(',', p);
        sizes.push_back(std::stoul(s.substr(p, q - p)));
        p = q == std::string::npos ? s.size() : q + 1;
      }
    } else {
      std::fprintf(stderr, "usage: signature_bench [--reps N] [--sizes 1,2,4,...]\n");
      return 2;
    }
  }
  const size_t kTotal = 4096;  // signatures per timed repetition
  {
    const SecretKey sk = SecretKey::FromSeed("sigbench-sign");
    std::vector<Hash32> digests(kTotal);
    for (size_t i = 0; i < kTotal; ++i) digests[i] = Sha256("sign" + std::to_string(i));
    std::vector<double> stream, plain, kernel;
    for (int r = 0; r < reps; ++r) {
      auto t0 = Clock::now();
      for (const Hash32& d : digests) sk.Sign(d);  // calls into libsecp256k1: not elided
      auto t1 = Clock::now();
      for (const Hash32& d : digests) sk.SignDeterministic(d);
      auto t2 = Clock::now();
      for (const Hash32& d : digests) {
        uint8_t aux[32];
        RandomBytes(aux, sizeof aux);
        sk.SignDeterministic(d);
      }
      auto t3 = Clock::now();
      stream.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / kTotal);
      plain.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count() / kTotal);
      kernel.push_back(std::chrono::duration<double, std::micro>(t3 - t2).count() / kTotal);
    }
    std::printf("signing us: Sign %.2f, no aux %.2f, getrandom + sign %.2f (Sign / no aux %.3f)\n",
                Median(stream), Median(plain), Median(kernel), Median(stream) / Median(plain));
  }
  // Key mixes: 1 and 4 keys per batch; "all": every signature by another key, of a set of keys
  // used before (the node's case: its signers are its genesis's partners, whose tables the
  // batch keeps per thread); "new": every signature by a key never seen (which VerifySignatures checks alone).
  const char* kModes[] = {"1", "4", "all", "new"};
  std::printf("%-8s %-6s %12s %12s %8s\n", "batch", "keys", "single us", "batch us", "speedup");
  for (size_t keys_mode = 0; keys_mode < 4; ++keys_mode) {
    for (size_t size : sizes) {
      size_t keys = keys_mode == 0 ? 1 : keys_mode == 1 ? 4 : size;
      if (keys_mode == 1 && keys > size) continue;
      size_t batches = std::max<size_t>(1, kTotal / size);
      std::vector<double> single, batch;
      for (int r = 0; r < reps; ++r) {
        std::vector<std::vector<Sample>> data;
        std::vector<std::vector<SignatureCheck>> checks(batches);
        for (size_t b = 0; b < batches; ++b) {
          std::string seed = keys_mode == 3 ? "sigbench-new-" + std::to_string(r) + "-" +
                                                  std::to_string(b) + "-"
                                            : "sigbench-";
          data.push_back(MakeSamples(size, keys, seed));
        }
        for (size_t b = 0; b < batches; ++b) {
          for (const Sample& s : data[b]) checks[b].push_back(SignatureCheck{&s.key, &s.digest, &s.sig});
        }
        auto t0 = Clock::now();
        size_t ok = 0;
        for (const auto& d : data) {
          for (const Sample& s : d) ok += VerifySignature(s.key, s.digest, s.sig);
        }
        auto t1 = Clock::now();
        size_t bok = 0;
        for (const auto& c : checks) {
          std::vector<bool> v = VerifySignatures(c);
          bok += static_cast<size_t>(std::count(v.begin(), v.end(), true));
        }
        auto t2 = Clock::now();
        if (ok != batches * size || bok != batches * size) {
          std::fprintf(stderr, "signature_bench: a valid signature failed to verify\n");
          return 1;
        }
        single.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count() / ok);
        batch.push_back(std::chrono::duration<double, std::micro>(t2 - t1).count() / bok);
      }
      double s = Median(single), b = Median(batch);
      std::printf("%-8zu %-6s %12.2f %12.2f %7.2fx\n", size, kModes[keys_mode], s, b, s / b);
      std::fflush(stdout);
    }
  }
  return 0;
}

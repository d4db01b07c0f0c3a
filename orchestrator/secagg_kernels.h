// Internal to orchestrator/secagg.cc: the loops that run over every word of a trunk update
// (~33M per update). They live in their own translation unit, compiled with -O3 so that GCC 12
// vectorises them (its -O2 cost model does not), without raising the optimisation level of
// the rest of secure aggregation. Not a public contract; see secagg.h for the semantics.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fedledger::orchestrator::kernels {

// out[k] = int32(round_half_even(clamp(x[k], -clip, clip) * factor)), NaN -> 0.
// REQUIRES: |clip * factor| < 2^31.
void Encode(const float* x, size_t n, float clip, double factor, uint32_t* out, uint64_t* clipped,
            uint64_t* non_finite);
// out[k] = float(int32(s[k]) * inv).
void Decode(const uint32_t* s, size_t n, double inv, float* out);
void Add(uint32_t* acc, const uint32_t* v, size_t n);  // acc[k] += v[k] mod 2^32
void Sub(uint32_t* acc, const uint32_t* v, size_t n);  // acc[k] -= v[k] mod 2^32
// The same on words stored little-endian at any alignment (inside encoded artifacts).
void AddLE(uint8_t* acc, const uint8_t* v, size_t n);
// out[k] += float(int32(s[k]) * inv), s little-endian at any alignment.
void DecodeAddLE(const uint8_t* s, size_t n, double inv, float* out);

}  // namespace fedledger::orchestrator::kernels

#include <cryptopp/sha.h>
#include <cryptopp/cpu.h>
#include <chrono>
#include <cstdio>
#include <string>
int main() {
  std::string buf(64 << 20, 'x');
  unsigned char d[32];
  printf("HasSHA=%d HasSSE41=%d\n", (int)CryptoPP::HasSHA(), (int)CryptoPP::HasSSE41());
  for (int i = 0; i < 3; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    CryptoPP::SHA256().CalculateDigest(d, (const unsigned char*)buf.data(), buf.size());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("%.0f MB/s\n", buf.size() / s / 1e6);
  }
}

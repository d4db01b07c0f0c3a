#include "byzantine.h"

namespace fedledger::consensus::sim {

namespace {

class ByzantineOutbox : public Outbox {
 public:
  ByzantineOutbox(Byzantine kind, SimNode* node, Simulation* sim)
      : kind_(kind), node_(node), sim_(sim) {}

  void Send(const PubKey& to, const Message& m) override {
    int i = sim_->validators().IndexOf(to);
    if (i >= 0) SendTo(static_cast<size_t>(i), m);
  }
  void Broadcast(const Message& m) override {
    for (size_t i = 0; i < sim_->size(); ++i) {
      if (i != node_->index()) SendTo(i, m);
    }
  }
  void SetTimer(const TimerRequest& t) override { node_->SetTimer(t); }
  void Committed(const Block& block, const Certificate& cert) override {
    node_->Committed(block, cert);
  }

 private:
  bool Coin() { return std::uniform_int_distribution<int>(0, 1)(sim_->rng()) == 1; }

  void Raw(size_t to, const Message& m) { node_->SendBytes(to, EncodeMessage(m)); }

  Vote Resign(Vote v) {
    v.validator = node_->key().pubkey();
    v.sig = node_->key().SignDeterministic(v.Digest());
    return v;
  }

  void SendTo(size_t to, const Message& m) {
    switch (kind_) {
      case Byzantine::kNone:
        Raw(to, m);
        return;
      case Byzantine::kEquivocatingProposer:
        Equivocate(to, m);
        return;
      case Byzantine::kDoubleVoter:
        DoubleVote(to, m);
        return;
      case Byzantine::kBadSignatures:
        BadSignatures(to, m);
        return;
      case Byzantine::kWrongHeights:
        WrongHeights(to, m);
        return;
      case Byzantine::kFlooder:
        Flood(to, m);
        return;
    }
  }

  // Odd peers get a different, valid block for the same height and round.
  void Equivocate(size_t to, const Message& m) {
    const Proposal* p = std::get_if<Proposal>(&m);
    if (!p || to % 2 == 0 || !node_->app()) return Raw(to, m);
    Proposal alt = *p;
    std::vector<Entry> entries = p->block.entries;
    if (entries.size() > 1) entries.pop_back();
    alt.block.header =
        node_->app()->NextHeader(entries, p->block.header.time_ms + 1 + to, node_->key().pubkey());
    if (alt.block.header.height != p->height) return Raw(to, m);
    alt.block.entries = std::move(entries);
    alt.Sign(node_->key());
    Raw(to, alt);
  }

  // Odd peers first get the opposite vote (nil for a block, a made-up block for nil), then
  // the real one; even peers only the real one.
  void DoubleVote(size_t to, const Message& m) {
    const Vote* v = std::get_if<Vote>(&m);
    if (!v || to % 2 == 0) return Raw(to, m);
    Vote alt = *v;
    alt.block_hash = v->IsNil() ? Sha256("no such block " + std::to_string(v->round)) : Hash32{};
    Raw(to, Resign(alt));
    Raw(to, m);
  }

  void BadSignatures(size_t to, const Message& m) {
    Message bad = m;
    if (auto* v = std::get_if<Vote>(&bad)) {
      v->sig[5] ^= 0x40;
      Raw(to, bad);
      // And a vote in someone else's name, signed with our key.
      Vote forged = *v;
      forged.validator = sim_->validators().at((node_->index() + 1) % sim_->size()).key;
      forged.sig = node_->key().SignDeterministic(forged.Digest());
      Raw(to, forged);
    } else if (auto* p = std::get_if<Proposal>(&bad)) {
      p->sig[9] ^= 0x01;
      Raw(to, bad);
    } else {
      Raw(to, m);
    }
    Bytes junk = EncodeMessage(m);
    if (!junk.empty()) {
      junk[std::uniform_int_distribution<size_t>(0, junk.size() - 1)(sim_->rng())] ^= 0xFF;
      node_->SendBytes(to, junk);
      junk.resize(junk.size() / 2);
      node_->SendBytes(to, junk);
    }
  }

  void WrongHeights(size_t to, const Message& m) {
    Raw(to, m);
    const Vote* v = std::get_if<Vote>(&m);
    if (!v) return;
    for (int64_t dh : {-1, 1, 2, 5}) {
      if (dh < 0 && v->height < 2) continue;
      Vote w = *v;
      w.height = v->height + dh;
      w.block_hash = Sha256("wrong height " + std::to_string(w.height));
      Raw(to, Resign(w));
    }
    for (uint32_t r : {v->round + 3, v->round + 1000, 0xFFFFFFFEu}) {
      Vote w = *v;
      w.round = r;
      Raw(to, Resign(w));
    }
    Vote chain = *v;
    chain.chain_id = "other-chain";
    Raw(to, Resign(chain));
  }

  void Flood(size_t to, const Message& m) {
    for (int i = 0; i < 6; ++i) Raw(to, m);
    Raw(to, SyncRequest{1, static_cast<uint32_t>(kMaxSyncBlocks)});
    Raw(to, SyncResponse{});
    Bytes junk(64);
    for (auto& b : junk) b = static_cast<uint8_t>(sim_->rng()());
    node_->SendBytes(to, junk);
  }

  Byzantine kind_;
  SimNode* node_;
  Simulation* sim_;
};

}  // namespace

std::unique_ptr<Outbox> MakeByzantineOutbox(Byzantine kind, SimNode* node, Simulation* sim) {
  return std::make_unique<ByzantineOutbox>(kind, node, sim);
}

}  // namespace fedledger::consensus::sim

#include "consensus/consensus.h"

#include <cassert>

namespace fedledger::consensus {

namespace {
const Hash32 kNil{};

// A verdict on data a peer sent (a certificate, an entry signature): any of these codes means
// the data is bad, not that this validator failed.
bool PeerFault(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kCorruption ||
         s.code() == Status::Code::kFailedPrecondition;
}

// The application's verdict "this block is invalid" (consensus/application.h: InvalidArgument
// or FailedPrecondition naming the reason). Anything else from CheckBlock or Commit is this
// validator's own failure, e.g. a store read error (Store::CheckBlock reports one as
// Corruption of the local store): never a reason to call a peer's block invalid.
bool BlockRefused(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument ||
         s.code() == Status::Code::kFailedPrecondition;
}
}  // namespace

Consensus::Consensus(ConsensusOptions options, Application* app, Signer* signer, Outbox* out)
    : options_(options),
      app_(app),
      signer_(signer),
      out_(out),
      vals_(app->validators()),
      pacemaker_(options.timeouts, app->validators().size()),
      mempool_(options.mempool),
      votes_(app->validators().size()),
      future_per_sender_(app->validators().size(), 0) {
  assert(vals_.IndexOf(signer->pubkey()) >= 0 && "the signer is not a validator");
}

// ---- Inputs ----

Status Consensus::Start(uint64_t now_ms) {
  now_ms_ = now_ms;
  height_ = app_->Height() + 1;
  const SignedState& s = signer_->state();
  uint32_t round = 0;
  if (s.height == height_) round = s.round;
  if (s.lock_height == height_) {
    locked_round_ = s.lock_round;
    locked_hash_ = s.lock_hash;
  }
  RequestSync(nullptr);
  FL_TRY(StartRound(round));
  if (s.height == height_ && s.round == round_ && s.step >= SignStep::kPrevote) {
    // Re-send the vote we signed before the crash (signing is deterministic and the signer
    // allows re-signing the same message) and continue from its step.
    VoteType type = s.step == SignStep::kPrevote ? VoteType::kPrevote : VoteType::kPrecommit;
    FL_TRY(CastVote(type, s.block_hash));
  }
  return Run();
}

Status Consensus::OnMessage(const PubKey& from, const Message& m, uint64_t now_ms) {
  now_ms_ = now_ms;
  FL_TRY(Handle(from, m));
  return Run();
}

Status Consensus::OnTimeout(const TimerRequest& t, uint64_t now_ms) {
  now_ms_ = now_ms;
  if (t.sync_id != 0) {
    OnSyncTimeout(t);
    return Run();
  }
  if (t.height != height_ || t.round != round_) return Status::Ok();  // stale
  if (t.propose) {
    if (!proposal_deferred_) return Status::Ok();
    proposal_deferred_ = false;
    FL_TRY(TryPropose());
    if (!proposed_ && RoundHasWork()) SetProposeTimer();
    return Run();
  }
  switch (t.step) {
    case Step::kPropose:
      if (step_ != Step::kPropose) return Status::Ok();
      ++stats_.timeouts;
      FL_TRY(CastVote(VoteType::kPrevote, kNil));
      break;
    case Step::kPrevote:
      if (step_ != Step::kPrevote) return Status::Ok();
      ++stats_.timeouts;
      FL_TRY(CastVote(VoteType::kPrecommit, kNil));
      break;
    case Step::kPrecommit:
      ++stats_.timeouts;
      // A round that ends without a decision: maybe the others decided without us.
      sync_in_flight_ = false;
      RequestSync(nullptr);
      FL_TRY(StartRound(round_ + 1));
      break;
  }
  return Run();
}

Result<std::vector<AdmitResult>> Consensus::SubmitEntries(
    std::vector<Entry> entries, uint64_t now_ms, const std::vector<bool>& signature_verified) {
  now_ms_ = now_ms;
  std::vector<AdmitResult> results;
  std::vector<Entry> admitted;
  bool added = Admit(std::move(entries), signature_verified, &results, &admitted);
  // The other validators hear of the work before they see a block holding it.
  if (!admitted.empty()) out_->Broadcast(EntryBatch{std::move(admitted)});
  if (added) FL_TRY(OnNewWork());
  FL_TRY(Run());
  return results;
}

bool Consensus::Admit(std::vector<Entry> entries, const std::vector<bool>& pre_verified,
                      std::vector<AdmitResult>* results, std::vector<Entry>* admitted) {
  bool added = false;
  for (size_t i = 0; i < entries.size(); ++i) {
    Entry& e = entries[i];
    bool verified =
        (i < pre_verified.size() && pre_verified[i]) || verified_.count(e.leaf_hash()) != 0;
    std::optional<Entry> copy;
    if (admitted) copy = e;
    AdmitResult r = mempool_.Add(std::move(e), *app_, verified);
    if (r.ok()) {
      added = true;
      if (admitted) admitted->push_back(std::move(*copy));
    }
    if (results) results->push_back(std::move(r));
  }
  return added;
}

Status Consensus::OnNewWork() {
  if (step_ != Step::kPropose || proposal_deferred_) return Status::Ok();
  if (vals_.Proposer(height_, round_).key == signer_->pubkey()) FL_TRY(TryPropose());
  if (!proposed_) SetProposeTimer();
  return Status::Ok();
}

// ---- Message handling ----

void Consensus::Reject(const PubKey& from, const std::string& reason) {
  ++stats_.rejected_messages;
  out_->Rejected(from, reason);
}

Status Consensus::Handle(const PubKey& from, const Message& m) {
  switch (TypeOf(m)) {
    case MessageType::kProposal:
      return HandleProposal(from, std::get<Proposal>(m));
    case MessageType::kVote:
      return HandleVote(from, std::get<Vote>(m));
    case MessageType::kSyncRequest:
      return HandleSyncRequest(from, std::get<SyncRequest>(m));
    case MessageType::kSyncResponse:
      return HandleSyncResponse(from, std::get<SyncResponse>(m));
    case MessageType::kEntryBatch:
      return HandleEntryBatch(from, std::get<EntryBatch>(m));
  }
  return Status::Ok();
}

bool Consensus::Defer(const PubKey& from, uint64_t height, const Message& m) {
  if (height <= height_) return false;
  int sender = vals_.IndexOf(from);
  if (height == height_ + 1 && sender >= 0) {
    size_t per_sender = options_.max_future_messages / vals_.size() + 1;
    if (future_per_sender_[sender] < per_sender) {
      ++future_per_sender_[sender];
      future_.emplace_back(from, m);
    }
    // A quorum of validators is already at the next height: this height was decided without
    // us, so fetch the block instead of waiting for our own round to time out.
    size_t ahead = 0;
    for (size_t c : future_per_sender_) ahead += c > 0;
    if (ahead >= vals_.Quorum()) RequestSync(&from);
    return true;
  }
  RequestSync(&from);
  return true;
}

Status Consensus::HandleProposal(const PubKey& from, Proposal p) {
  if (p.chain_id != app_->chain_id()) {
    Reject(from, "proposal for chain '" + p.chain_id + "'");
    return Status::Ok();
  }
  if (p.height < height_) return Status::Ok();  // stale, harmless
  if (Defer(from, p.height, p)) return Status::Ok();
  if (p.round == kNoRound || (p.pol_round != kNoRound && p.pol_round >= p.round)) {
    Reject(from, "proposal with a bad round or pol_round");
    return Status::Ok();
  }
  const Member& proposer = vals_.Proposer(p.height, p.round);
  p.block_hash = p.block.header.Hash();
  auto it = proposals_.find(p.round);
  if (it != proposals_.end()) {
    if (it->second.proposal.block_hash == p.block_hash) return Status::Ok();  // duplicate
    if (p.VerifySignature(proposer.key)) {
      ++stats_.equivocations;
      Reject(from,
             "equivocating proposal by " + proposer.name + " in round " + std::to_string(p.round));
    } else {
      Reject(from, "proposal signature does not verify");
    }
    return Status::Ok();
  }
  if (!p.VerifySignature(proposer.key)) {
    Reject(from, "proposal signature does not verify");
    return Status::Ok();
  }
  for (const Vote& v : p.pol_votes) {
    if (v.type != VoteType::kPrevote || v.height != p.height || v.round != p.pol_round ||
        v.block_hash != p.block_hash) {
      Reject(from, "proposal carries a vote that is not part of its proof of lock");
      return Status::Ok();
    }
    FL_TRY(HandleVote(from, v));
  }
  p.pol_votes.clear();
  pacemaker_.Observe(vals_.IndexOf(proposer.key), p.round);
  if (p.round > round_ + options_.round_window) return Status::Ok();
  proposals_[p.round] = ProposalSlot{std::move(p), std::nullopt};
  SetProposeTimer();
  return Status::Ok();
}

Status Consensus::HandleVote(const PubKey& from, const Vote& v) {
  if (v.chain_id != app_->chain_id()) {
    Reject(from, "vote for chain '" + v.chain_id + "'");
    return Status::Ok();
  }
  int idx = vals_.IndexOf(v.validator);
  if (idx < 0) {
    Reject(from, "vote by a non-validator");
    return Status::Ok();
  }
  if (v.height < height_) return Status::Ok();
  if (Defer(from, v.height, v)) return Status::Ok();
  if (v.round == kNoRound) {
    Reject(from, "vote round out of range");
    return Status::Ok();
  }
  VoteLookup l = votes_.Lookup(idx, v);
  if (l == VoteLookup::kKnown) return Status::Ok();
  if (!v.VerifySignature()) {
    Reject(from, "vote signature does not verify");
    return Status::Ok();
  }
  pacemaker_.Observe(idx, v.round);
  if (l == VoteLookup::kConflict) {
    // Equivocation. Both signed votes stay in the tallies (see vote_set.h): every quorum
    // statement is about distinct signers, which stays true.
    ++stats_.equivocations;
    Reject(from,
           "conflicting vote by " + vals_.at(idx).name + " in round " + std::to_string(v.round));
  }
  if (v.round > round_ + options_.round_window) return Status::Ok();
  votes_.Add(idx, v);
  SetProposeTimer();
  return Status::Ok();
}

Status Consensus::HandleSyncRequest(const PubKey& from, const SyncRequest& r) {
  uint64_t head = app_->Height();
  uint64_t begin = std::max<uint64_t>(r.from_height, 1);
  if (begin > head) {
    out_->Send(from, SyncResponse{});  // nothing newer: lets the requester ask someone else
    return Status::Ok();
  }
  uint64_t count = std::min<uint64_t>({r.max_blocks, options_.max_sync_blocks, head - begin + 1});
  SyncResponse resp;
  size_t bytes = 0;
  for (uint64_t h = begin; h < begin + count; ++h) {
    auto cb = app_->GetCommitted(h);
    if (!cb.ok()) return cb.status().WithContext("serving a sync request");
    for (const Entry& e : cb->block.entries) bytes += e.bytes().size();
    resp.blocks.push_back(std::move(cb).value());
    if (bytes > kMaxBlockBytes / 2) break;
  }
  out_->Send(from, resp);
  return Status::Ok();
}

Status Consensus::HandleSyncResponse(const PubKey& from, const SyncResponse& r) {
  if (sync_in_flight_ && from == sync_peer_) {
    sync_in_flight_ = false;
    sync_attempts_ = 0;
  }
  size_t committed = 0;
  for (const CommittedBlock& cb : r.blocks) {
    uint64_t h = cb.block.header.height;
    if (h < height_) continue;
    if (h > height_) break;
    // The certificate first: it is a few signatures, while a forged block may carry many
    // entries whose signatures we have not seen. The store does not check it a second time.
    Status s = cb.cert.Verify(vals_, app_->chain_id(), h, cb.block.header.Hash());
    if (s.ok()) s = VerifyEntries(cb.block);
    if (!s.ok() && !PeerFault(s)) return s;
    if (s.ok()) {
      s = app_->Commit(cb.block, cb.cert);
      if (!s.ok() && !BlockRefused(s)) {
        return s.WithContext("committing synced block " + std::to_string(h));
      }
    }
    if (!s.ok()) {
      Reject(from, "sync block " + std::to_string(h) + ": " + s.message());
      return Status::Ok();
    }
    ++committed;
    ++stats_.synced_blocks;
    DropCommitted(cb.block);
    out_->Committed(cb.block, cb.cert);
    NewHeight();
    FL_TRY(StartRound(0));
  }
  // A full response: the peer may have more. Ask it even if a request to another peer is in
  // flight (that one is superseded: its deadline is ignored, its late answer is stale).
  if (committed > 0 && r.blocks.size() >= options_.max_sync_blocks) {
    sync_in_flight_ = false;
    RequestSync(&from);
  }
  return Status::Ok();
}

Status Consensus::HandleEntryBatch(const PubKey& from, const EntryBatch& b) {
  if (vals_.IndexOf(from) < 0) {
    Reject(from, "entry batch from a non-validator");
    return Status::Ok();
  }
  std::vector<AdmitResult> results;
  if (Admit(b.entries, b.signature_verified, &results, nullptr)) FL_TRY(OnNewWork());
  for (const AdmitResult& r : results) {
    if (r.code == Admission::kBadSignature || r.code == Admission::kWrongChain) {
      Reject(from, std::string("entry batch: ") + AdmissionName(r.code));
      break;
    }
  }
  return Status::Ok();
}

// ---- Rules ----

Status Consensus::Run() {
  for (;;) {
    FL_ASSIGN(bool fired, Step1());
    if (fired) continue;
    if (!replay_) return Status::Ok();
    replay_ = false;
    auto msgs = std::move(future_);
    future_.clear();
    std::fill(future_per_sender_.begin(), future_per_sender_.end(), 0);
    for (auto& [from, m] : msgs) FL_TRY(Handle(from, m));
  }
}

Result<bool> Consensus::IsValid(ProposalSlot& slot) {
  if (slot.valid) return *slot.valid;
  const Block& b = slot.proposal.block;
  Status s = app_->CheckBlock(b);
  if (!s.ok() && !BlockRefused(s)) {
    // Our own failure (the store could not be read): no verdict, nothing cached, no vote. The
    // input call fails and the validator stops, as on any store failure; prevoting nil would
    // count a good block as bad and hide a broken disk behind "invalid proposal".
    return s.WithContext("checking the proposal for height " +
                         std::to_string(slot.proposal.height) + " round " +
                         std::to_string(slot.proposal.round));
  }
  if (s.ok()) s = VerifyEntries(b);
  slot.valid = s.ok();
  if (!s.ok()) {
    ++stats_.invalid_proposals;
    out_->Rejected(vals_.Proposer(slot.proposal.height, slot.proposal.round).key,
                   "invalid proposal: " + s.message());
  }
  return *slot.valid;
}

Status Consensus::VerifyEntries(const Block& block) {
  if (verified_.size() > options_.verified_cache_entries) verified_.clear();
  std::vector<size_t> unchecked;
  std::vector<SignatureCheck> checks;
  for (size_t i = 0; i < block.entries.size(); ++i) {
    const Entry& e = block.entries[i];
    if (mempool_.Contains(e.leaf_hash()) || verified_.count(e.leaf_hash())) continue;
    unchecked.push_back(i);
    checks.push_back(e.signature_check());
  }
  stats_.block_signature_checks += checks.size();
  std::vector<bool> ok = VerifySignatures(checks);
  for (size_t k = 0; k < unchecked.size(); ++k) {
    if (!ok[k]) {
      return Status::InvalidArgument("entry " + std::to_string(unchecked[k]) +
                                     ": signature does not verify");
    }
  }
  for (size_t i : unchecked) verified_.insert(block.entries[i].leaf_hash());
  return Status::Ok();
}

Result<bool> Consensus::Step1() {
  const size_t q = vals_.Quorum();

  // Line 49: a block with >2/3 precommits in some round is decided.
  for (uint32_t r : votes_.Rounds()) {
    auto h = votes_.QuorumHash(VoteType::kPrecommit, r, q);
    if (!h || h->IsZero()) continue;
    for (auto& [pr, slot] : proposals_) {
      if (slot.proposal.block_hash != *h) continue;
      FL_ASSIGN(bool valid, IsValid(slot));
      if (!valid) continue;
      auto cert = Certificate::FromPrecommits(vals_, votes_.Votes(VoteType::kPrecommit, r, *h));
      if (!cert.ok()) return cert.status().WithContext("building a certificate");
      // The height ends here (NewHeight drops every proposal): take the block, do not copy it.
      Block block = std::move(slot.proposal.block);
      FL_TRY(CommitBlock(block, *cert));
      return true;
    }
    if (missing_block_ != *h) {
      // Decided, but the proposal never reached us: fetch the block from a precommitter.
      missing_block_ = *h;
      for (const Vote& v : votes_.Votes(VoteType::kPrecommit, r, *h)) {
        if (v.validator != signer_->pubkey()) {
          sync_in_flight_ = false;
          RequestSync(&v.validator);
          break;
        }
      }
    }
  }

  // Line 55: f+1 validators are in a higher round.
  uint32_t target = pacemaker_.SkipTarget();
  if (target > round_) {
    FL_TRY(StartRound(target));
    return true;
  }

  auto slot_it = proposals_.find(round_);
  ProposalSlot* slot = slot_it == proposals_.end() ? nullptr : &slot_it->second;

  if (step_ == Step::kPropose && slot) {
    const Proposal& p = slot->proposal;
    if (p.pol_round == kNoRound) {
      // Line 22.
      FL_ASSIGN(bool valid, IsValid(*slot));
      bool ok = valid && (locked_round_ == -1 || locked_hash_ == p.block_hash);
      FL_TRY(CastVote(VoteType::kPrevote, ok ? p.block_hash : kNil));
      return true;
    }
    if (votes_.Count(VoteType::kPrevote, p.pol_round, p.block_hash) >= q) {
      // Line 28.
      FL_ASSIGN(bool valid, IsValid(*slot));
      bool ok = valid && (locked_round_ <= static_cast<int64_t>(p.pol_round) ||
                          locked_hash_ == p.block_hash);
      FL_TRY(CastVote(VoteType::kPrevote, ok ? p.block_hash : kNil));
      return true;
    }
  }

  bool polka = step_ != Step::kPropose && !polka_seen_ && slot &&
               votes_.Count(VoteType::kPrevote, round_, slot->proposal.block_hash) >= q;
  if (polka) {
    FL_ASSIGN(polka, IsValid(*slot));
  }
  if (polka) {
    // Line 36.
    polka_seen_ = true;
    if (step_ == Step::kPrevote) {
      locked_round_ = round_;
      locked_hash_ = slot->proposal.block_hash;
      FL_TRY(CastVote(VoteType::kPrecommit, slot->proposal.block_hash));
    }
    valid_round_ = round_;
    valid_block_ = slot->proposal.block;
    return true;
  }

  if (step_ == Step::kPrevote && votes_.Count(VoteType::kPrevote, round_, kNil) >= q) {
    // Line 44.
    FL_TRY(CastVote(VoteType::kPrecommit, kNil));
    return true;
  }

  if (!precommit_timer_set_ && votes_.Total(VoteType::kPrecommit, round_) >= q) {
    // Line 47.
    precommit_timer_set_ = true;
    out_->SetTimer(pacemaker_.Timer(Step::kPrecommit, height_, round_));
    return true;
  }
  return false;
}

// ---- Actions ----

Status Consensus::StartRound(uint32_t round, bool after_commit) {
  round_ = round;
  step_ = Step::kPropose;
  proposed_ = false;
  propose_timer_set_ = false;
  polka_seen_ = false;
  precommit_timer_set_ = false;
  proposal_deferred_ = false;
  ++stats_.rounds_started;
  if (vals_.Proposer(height_, round_).key == signer_->pubkey()) {
    if (after_commit && options_.propose_after_pending) {
      proposal_deferred_ = true;
      TimerRequest t;
      t.height = height_;
      t.round = round_;
      t.propose = true;
      out_->SetTimer(t);
      return Status::Ok();
    }
    FL_TRY(TryPropose());
  }
  if (!proposed_ && RoundHasWork()) SetProposeTimer();
  return Status::Ok();
}

bool Consensus::RoundHasWork() const {
  return round_ > 0 || !mempool_.empty() || valid_block_ || locked_round_ >= 0 ||
         !votes_.Rounds().empty();
}

void Consensus::SetProposeTimer() {
  if (step_ != Step::kPropose || propose_timer_set_) return;
  propose_timer_set_ = true;
  out_->SetTimer(pacemaker_.Timer(Step::kPropose, height_, round_));
}

Status Consensus::TryPropose() {
  if (step_ != Step::kPropose || proposed_) return Status::Ok();
  Proposal p;
  p.chain_id = app_->chain_id();
  p.height = height_;
  p.round = round_;
  if (valid_block_) {
    p.block = *valid_block_;
    p.pol_round = static_cast<uint32_t>(valid_round_);
    p.pol_votes = votes_.Votes(VoteType::kPrevote, p.pol_round, p.block.header.Hash());
  } else {
    std::vector<Entry> entries =
        mempool_.Select(options_.max_block_entries, options_.max_block_bytes);
    if (entries.empty()) return Status::Ok();  // wait for work
    FL_ASSIGN(p.block, BuildBlock(std::move(entries)));
    if (p.block.entries.empty()) return Status::Ok();  // everything was evicted
  }
  // A fresh block while unlocked: line 22 will prevote it at once, so sign the proposal and
  // the prevote together, with one durable write instead of two (Signer::
  // SignProposalAndPrevote says why that is safe).
  bool prevote_now = p.pol_round == kNoRound && locked_round_ == -1;
  const bool send_first = prevote_now && options_.send_proposal_first;
  std::optional<Vote> prevote;
  Status s;
  if (send_first) {
    s = signer_->SignProposalUnsynced(p);
  } else if (prevote_now) {
    auto v = signer_->SignProposalAndPrevote(p);
    if (v.ok()) prevote = std::move(v).value();
    s = v.status();
  } else {
    s = signer_->SignProposal(p);
  }
  if (!s.ok()) {
    if (s.code() == Status::Code::kFailedPrecondition) return Status::Ok();  // after a restart
    return s;
  }
  proposed_ = true;
  ++stats_.proposals_made;
  out_->Broadcast(p);
  const Hash32 hash = p.block_hash;
  ProposalSlot slot{std::move(p), true};
  proposals_[round_] = std::move(slot);
  if (send_first) {
    out_->SendNow();
    return CastVote(VoteType::kPrevote, hash);  // durable before it leaves
  }
  if (prevote) EnterVoteStep(VoteType::kPrevote, &*prevote);
  return Status::Ok();
}

Result<Block> Consensus::BuildBlock(std::vector<Entry> entries) {
  // Each entry passed the application's CheckEntry alone, but a rule may refuse one on top of
  // the entries before it (two registrations of one dataset id, say). One such entry must not
  // stall the height: find the longest valid prefix (the application applies entries in
  // order, so validity of prefixes is monotone), evict the entry after it and try the rest.
  // Each retry evicts one entry; after kMaxEvictions, propose the valid prefix found last.
  constexpr int kMaxEvictions = 8;
  auto make = [&](std::vector<Entry> es) {
    Block b;
    b.header = app_->NextHeader(es, now_ms_, signer_->pubkey());
    b.entries = std::move(es);
    return b;
  };
  Block block = make(std::move(entries));
  for (int evictions = 0;; ++evictions) {
    Status s = app_->CheckBlock(block);
    if (s.ok()) return block;
    if (!BlockRefused(s)) return s;
    std::vector<Entry>& es = block.entries;
    if (evictions == 0) {
      // A refusal that is not about an entry (the header: say a clock far behind the head's
      // time) fails even the empty block; no entry is to blame, so evict none.
      Status empty = app_->CheckBlock(make({}));
      if (!empty.ok()) {
        if (!BlockRefused(empty)) return empty;
        out_->Rejected(signer_->pubkey(), "own block did not check: " + s.message());
        return make({});
      }
    }
    // Invariant: a prefix of `lo` entries checks (the empty one did), one of `hi` does not.
    size_t lo = 0, hi = es.size();
    Status first_bad = s;
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      Status m = app_->CheckBlock(make({es.begin(), es.begin() + static_cast<long>(mid)}));
      if (m.ok()) {
        lo = mid;
      } else {
        if (!BlockRefused(m)) return m;
        hi = mid;
        first_bad = m;
      }
    }
    Entry bad = std::move(es[lo]);
    std::string reason = first_bad.message();
    mempool_.Remove(bad.leaf_hash());
    ++stats_.evicted_entries;
    out_->Rejected(signer_->pubkey(), "evicted " + bad.leaf_hash().Hex().substr(0, 16) +
                                          " from the mempool: " + reason);
    out_->Evicted(bad, Admission::kRejected, reason);
    std::vector<Entry> rest;
    if (evictions + 1 < kMaxEvictions) {
      rest.reserve(es.size() - 1);
      for (size_t i = 0; i < es.size(); ++i) {
        if (i != lo) rest.push_back(std::move(es[i]));
      }
    } else {
      es.erase(es.begin() + static_cast<long>(lo), es.end());
      rest = std::move(es);  // checked above
      return make(std::move(rest));
    }
    block = make(std::move(rest));
  }
}

Status Consensus::CastVote(VoteType type, const Hash32& hash) {
  auto v = signer_->SignVote(type, app_->chain_id(), height_, round_, hash);
  if (!v.ok()) {
    // Refused by the signer: after a restart we already signed something else here. Move on
    // without a vote rather than equivocate.
    if (v.status().code() != Status::Code::kFailedPrecondition) return v.status();
    out_->Rejected(signer_->pubkey(), v.status().message());
    EnterVoteStep(type, nullptr);
  } else {
    EnterVoteStep(type, &*v);
  }
  return Status::Ok();
}

void Consensus::EnterVoteStep(VoteType type, const Vote* v) {
  if (v) {
    votes_.Add(static_cast<size_t>(vals_.IndexOf(signer_->pubkey())), *v);
    out_->Broadcast(*v);
  }
  if (type == VoteType::kPrevote) {
    step_ = Step::kPrevote;
    out_->SetTimer(pacemaker_.Timer(Step::kPrevote, height_, round_));
  } else {
    step_ = Step::kPrecommit;
    if (!precommit_timer_set_) {
      precommit_timer_set_ = true;
      out_->SetTimer(pacemaker_.Timer(Step::kPrecommit, height_, round_));
    }
  }
}

Status Consensus::CommitBlock(const Block& block, const Certificate& cert) {
  Status s = app_->Commit(block, cert);
  if (!s.ok()) {
    return Status::Internal("committing block " + std::to_string(block.header.height) +
                            " that >2/3 of the validators precommitted: " + s.ToString());
  }
  ++stats_.commits;
  DropCommitted(block);
  out_->Committed(block, cert);
  NewHeight();
  return StartRound(0, /*after_commit=*/true);
}

void Consensus::DropCommitted(const Block& block) {
  for (const Entry& e : mempool_.RemoveCommitted(block, *app_)) {
    ++stats_.stale_entries;
    out_->Evicted(e, Admission::kStaleNonce,
                  "nonce " + std::to_string(e.nonce()) + " is not above the signer's last committed " +
                      std::to_string(app_->LastNonce(e.signer())) +
                      " (a later entry of this signer committed first)");
  }
}

void Consensus::NewHeight() {
  height_ = app_->Height() + 1;
  locked_round_ = -1;
  locked_hash_ = Hash32{};
  valid_round_ = -1;
  valid_block_.reset();
  proposals_.clear();
  votes_.Clear();
  pacemaker_.Reset();
  missing_block_.reset();
  replay_ = true;
}

void Consensus::RequestSync(const PubKey* peer) {
  if (!peer) {
    ++stats_.sync_requests_sent;
    out_->Broadcast(SyncRequest{height_, options_.max_sync_blocks});
    return;
  }
  if (sync_in_flight_ || *peer == signer_->pubkey()) return;
  SendSyncRequest(*peer);
}

void Consensus::SendSyncRequest(const PubKey& peer) {
  sync_in_flight_ = true;
  sync_peer_ = peer;
  ++sync_id_;
  ++stats_.sync_requests_sent;
  out_->Send(peer, SyncRequest{height_, options_.max_sync_blocks});
  TimerRequest t;
  t.height = height_;
  t.delay_ms = options_.sync_timeout_ms;
  t.sync_id = sync_id_;
  out_->SetTimer(t);
}

void Consensus::OnSyncTimeout(const TimerRequest& t) {
  if (!sync_in_flight_ || t.sync_id != sync_id_) return;  // answered, or superseded
  ++stats_.sync_timeouts;
  sync_in_flight_ = false;
  // The request or its answer was lost (a link went down, a queue overflowed, the peer
  // stopped): ask the next validator in genesis order. After every other validator was asked
  // once without an answer, stop; the next reason to sync (a later message, a round that
  // ends undecided) starts again.
  if (++sync_attempts_ >= vals_.size() - 1) {
    sync_attempts_ = 0;
    return;
  }
  size_t n = vals_.size();
  int at = vals_.IndexOf(sync_peer_);
  for (size_t k = 1; k < n; ++k) {
    const PubKey& next = vals_.at((static_cast<size_t>(at < 0 ? 0 : at) + k) % n).key;
    if (next == signer_->pubkey()) continue;
    SendSyncRequest(next);
    return;
  }
}

}  // namespace fedledger::consensus

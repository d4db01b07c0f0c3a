#include "consensus/consensus.h"

#include <cassert>

namespace fedledger::consensus {

namespace {
const Hash32 kNil{};

bool PeerFault(const Status& s) {
  return s.code() == Status::Code::kInvalidArgument || s.code() == Status::Code::kCorruption ||
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
  if (t.height != height_ || t.round != round_) return Status::Ok();  // stale
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

Result<std::vector<AdmitResult>> Consensus::SubmitEntries(std::vector<Entry> entries,
                                                          uint64_t now_ms) {
  now_ms_ = now_ms;
  std::vector<AdmitResult> results;
  std::vector<Entry> admitted;
  bool added = Admit(std::move(entries), &results, &admitted);
  // The other validators hear of the work before they see a block holding it.
  if (!admitted.empty()) out_->Broadcast(EntryBatch{std::move(admitted)});
  if (added) FL_TRY(OnNewWork());
  FL_TRY(Run());
  return results;
}

bool Consensus::Admit(std::vector<Entry> entries, std::vector<AdmitResult>* results,
                      std::vector<Entry>* admitted) {
  bool added = false;
  for (Entry& e : entries) {
    bool verified = verified_.count(e.leaf_hash()) != 0;
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
  if (step_ != Step::kPropose) return Status::Ok();
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
  sync_in_flight_ = false;
  size_t committed = 0;
  for (const CommittedBlock& cb : r.blocks) {
    uint64_t h = cb.block.header.height;
    if (h < height_) continue;
    if (h > height_) break;
    // The certificate first: it is a few signatures, while a forged block may carry many
    // entries whose signatures we have not seen (Commit checks the certificate again).
    Status s = cb.cert.Verify(vals_, app_->chain_id(), h, cb.block.header.Hash());
    if (s.ok()) s = VerifyEntries(cb.block);
    if (s.ok()) s = app_->Commit(cb.block, cb.cert);
    if (!s.ok()) {
      if (!PeerFault(s)) return s;
      Reject(from, "sync block " + std::to_string(h) + ": " + s.message());
      return Status::Ok();
    }
    ++committed;
    ++stats_.synced_blocks;
    mempool_.RemoveCommitted(cb.block, *app_);
    out_->Committed(cb.block, cb.cert);
    NewHeight();
    FL_TRY(StartRound(0));
  }
  // A full response: the peer may have more.
  if (committed > 0 && r.blocks.size() >= options_.max_sync_blocks) RequestSync(&from);
  return Status::Ok();
}

Status Consensus::HandleEntryBatch(const PubKey& from, const EntryBatch& b) {
  if (vals_.IndexOf(from) < 0) {
    Reject(from, "entry batch from a non-validator");
    return Status::Ok();
  }
  std::vector<AdmitResult> results;
  if (Admit(b.entries, &results, nullptr)) FL_TRY(OnNewWork());
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

bool Consensus::IsValid(ProposalSlot& slot) {
  if (slot.valid) return *slot.valid;
  const Block& b = slot.proposal.block;
  Status s = app_->CheckBlock(b);
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
  for (size_t i = 0; i < block.entries.size(); ++i) {
    const Entry& e = block.entries[i];
    if (mempool_.Contains(e.leaf_hash()) || verified_.count(e.leaf_hash())) continue;
    ++stats_.block_signature_checks;
    if (!e.VerifySignature()) {
      return Status::InvalidArgument("entry " + std::to_string(i) + ": signature does not verify");
    }
    verified_.insert(e.leaf_hash());
  }
  return Status::Ok();
}

Result<bool> Consensus::Step1() {
  const size_t q = vals_.Quorum();

  // Line 49: a block with >2/3 precommits in some round is decided.
  for (uint32_t r : votes_.Rounds()) {
    auto h = votes_.QuorumHash(VoteType::kPrecommit, r, q);
    if (!h || h->IsZero()) continue;
    for (auto& [pr, slot] : proposals_) {
      if (slot.proposal.block_hash != *h || !IsValid(slot)) continue;
      auto cert = Certificate::FromPrecommits(vals_, votes_.Votes(VoteType::kPrecommit, r, *h));
      if (!cert.ok()) return cert.status().WithContext("building a certificate");
      Block block = slot.proposal.block;
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
      bool ok = IsValid(*slot) && (locked_round_ == -1 || locked_hash_ == p.block_hash);
      FL_TRY(CastVote(VoteType::kPrevote, ok ? p.block_hash : kNil));
      return true;
    }
    if (votes_.Count(VoteType::kPrevote, p.pol_round, p.block_hash) >= q) {
      // Line 28.
      bool ok = IsValid(*slot) && (locked_round_ <= static_cast<int64_t>(p.pol_round) ||
                                   locked_hash_ == p.block_hash);
      FL_TRY(CastVote(VoteType::kPrevote, ok ? p.block_hash : kNil));
      return true;
    }
  }

  if (step_ != Step::kPropose && !polka_seen_ && slot &&
      votes_.Count(VoteType::kPrevote, round_, slot->proposal.block_hash) >= q && IsValid(*slot)) {
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

Status Consensus::StartRound(uint32_t round) {
  round_ = round;
  step_ = Step::kPropose;
  proposed_ = false;
  propose_timer_set_ = false;
  polka_seen_ = false;
  precommit_timer_set_ = false;
  ++stats_.rounds_started;
  if (vals_.Proposer(height_, round_).key == signer_->pubkey()) FL_TRY(TryPropose());
  if (!proposed_ && (round_ > 0 || !mempool_.empty() || valid_block_ || locked_round_ >= 0 ||
                     !votes_.Rounds().empty())) {
    SetProposeTimer();
  }
  return Status::Ok();
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
    p.block.header = app_->NextHeader(entries, now_ms_, signer_->pubkey());
    p.block.entries = std::move(entries);
    Status s = app_->CheckBlock(p.block);
    if (!s.ok()) {
      if (!PeerFault(s)) return s;
      // Entries that are fine alone but not together (an application rule): drop what no
      // longer passes on its own; if nothing does, drop them all rather than loop.
      size_t dropped = 0;
      for (const Entry& e : p.block.entries) {
        if (!app_->CheckEntry(e).ok() || e.nonce() <= app_->LastNonce(e.signer())) {
          mempool_.Remove(e.leaf_hash());
          ++dropped;
        }
      }
      if (dropped == 0) {
        for (const Entry& e : p.block.entries) mempool_.Remove(e.leaf_hash());
      }
      out_->Rejected(signer_->pubkey(), "own block did not check: " + s.message());
      return Status::Ok();
    }
  }
  Status s = signer_->SignProposal(p);
  if (!s.ok()) {
    if (s.code() == Status::Code::kFailedPrecondition) return Status::Ok();  // after a restart
    return s;
  }
  proposed_ = true;
  ++stats_.proposals_made;
  out_->Broadcast(p);
  ProposalSlot slot{std::move(p), true};
  proposals_[round_] = std::move(slot);
  return Status::Ok();
}

Status Consensus::CastVote(VoteType type, const Hash32& hash) {
  auto v = signer_->SignVote(type, app_->chain_id(), height_, round_, hash);
  if (!v.ok()) {
    // Refused by the signer: after a restart we already signed something else here. Move on
    // without a vote rather than equivocate.
    if (v.status().code() != Status::Code::kFailedPrecondition) return v.status();
    out_->Rejected(signer_->pubkey(), v.status().message());
  } else {
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
  return Status::Ok();
}

Status Consensus::CommitBlock(const Block& block, const Certificate& cert) {
  Status s = app_->Commit(block, cert);
  if (!s.ok()) {
    return Status::Internal("committing block " + std::to_string(block.header.height) +
                            " that >2/3 of the validators precommitted: " + s.ToString());
  }
  ++stats_.commits;
  mempool_.RemoveCommitted(block, *app_);
  out_->Committed(block, cert);
  NewHeight();
  return StartRound(0);
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
  SyncRequest req{height_, options_.max_sync_blocks};
  if (!peer) {
    ++stats_.sync_requests_sent;
    out_->Broadcast(req);
    return;
  }
  if (sync_in_flight_ || *peer == signer_->pubkey()) return;
  sync_in_flight_ = true;
  ++stats_.sync_requests_sent;
  out_->Send(*peer, req);
}

}  // namespace fedledger::consensus

// A LevelDB Env wrapper that models power loss: appended data reaches the underlying Env
// only when the file is synced. Crash() throws away every unsynced byte and turns every
// later write, rename and delete into a no-op, so tearing down the DB after the "crash"
// cannot repair anything. FailSyncAfter(n) makes the (n+1)-th and later Sync() calls fail.
// (After leveldb's db/fault_injection_test.cc; our own, smaller code.)
#pragma once

#include <leveldb/env.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace fedledger::testing {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  explicit FaultEnv(leveldb::Env* base) : leveldb::EnvWrapper(base) {}

  void Crash() { crashed_ = true; }
  bool crashed() const { return crashed_; }
  void FailSyncAfter(int n) { syncs_left_ = n; }
  int syncs() const { return syncs_; }

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    return Wrap(f, target()->NewWritableFile(f, r), r);
  }
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override {
    return Wrap(f, target()->NewAppendableFile(f, r), r);
  }
  leveldb::Status RemoveFile(const std::string& f) override {
    return crashed_ ? leveldb::Status::OK() : target()->RemoveFile(f);
  }
  leveldb::Status RenameFile(const std::string& a, const std::string& b) override {
    return crashed_ ? leveldb::Status::OK() : target()->RenameFile(a, b);
  }

 private:
  class File : public leveldb::WritableFile {
   public:
    File(FaultEnv* env, leveldb::WritableFile* base) : env_(env), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      if (!env_->crashed_) pending_.append(data.data(), data.size());
      return leveldb::Status::OK();
    }
    leveldb::Status Close() override { return leveldb::Status::OK(); }  // unsynced data stays volatile
    leveldb::Status Flush() override { return leveldb::Status::OK(); }
    leveldb::Status Sync() override {
      if (env_->crashed_) return leveldb::Status::IOError("crashed");
      ++env_->syncs_;
      if (env_->syncs_left_ >= 0 && env_->syncs_left_-- == 0) {
        env_->syncs_left_ = 0;
        return leveldb::Status::IOError("injected fsync failure");
      }
      leveldb::Status s = base_->Append(pending_);
      if (s.ok()) s = base_->Sync();
      pending_.clear();
      return s;
    }

   private:
    FaultEnv* env_;
    std::unique_ptr<leveldb::WritableFile> base_;
    std::string pending_;
  };

  leveldb::Status Wrap(const std::string&, leveldb::Status s, leveldb::WritableFile** r) {
    if (s.ok()) *r = new File(this, *r);
    return s;
  }

  std::atomic<bool> crashed_{false};
  std::atomic<int> syncs_left_{-1};
  std::atomic<int> syncs_{0};
};

}  // namespace fedledger::testing

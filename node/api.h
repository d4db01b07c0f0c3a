// The node's HTTP/JSON API (routes on net::HttpServer). Every route is documented in
// docs/OPERATIONS.md; errors are {"error": reason} with a 4xx for bad input and nothing stored
// changes.
//
//   POST /entries           {"entry": HEX, "wait": bool, "proof": bool, "timeout_ms": N}
//                           202 accepted | 200 committed {height, index, leaf_hash, proof?}
//                           (also at once for an entry already committed: a retry)
//                           400 malformed/bad signature | 409 stale nonce, nonce taken
//                           429 mempool full | 504 not committed within timeout_ms
//   GET  /status            chain, genesis, head, consensus height/round/step, mempool, peers
//   GET  /blocks/{height}   header, hash, certificate, entries ("latest" for the head)
//   GET  /entries/{index}   one entry with its height
//   GET  /entries?kind=&signer=&task=&since=&until=&limit=   (limit <= 1000, default 100)
//   GET  /nonces/{signer}   {"last_nonce": N}: the signer's last committed nonce
//   GET  /proofs/inclusion/{index}?tree_size=N
//   GET  /proofs/consistency?from=M&to=N
//   GET  /metrics           Prometheus text format
//   GET  /tasks             {"count", "tasks": [TaskSummaryJson...]}      (orchestrator/views.h)
//   GET  /tasks/{id}        TaskJson: spec, hash, participants, approvals, status, rounds
//   GET  /datasets          {"count", "datasets": [DatasetJson...]}
//   PUT  /artifacts/{sha256}  raw bytes; 201 stored | 200 already present | 400 the bytes hash
//                           to something else | 413 over [http] body_limit (artifact_api.cc)
//   GET  /artifacts/{sha256}  the bytes (application/octet-stream) | 404
//                           (404 on a node that runs rules = "ledger": it keeps no task state)
//
// Handlers run on the HTTP server's io threads: they parse and check the request, then read
// the Store (thread-safe) or call Node::Submit.
#pragma once

#include <functional>

#include "net/http_server.h"
#include "node/node.h"

namespace fedledger::node {

// REQUIRES: `server` not started; `node` outlives the server.
void RegisterApi(net::HttpServer& server, Node& node);

// The task and dataset routes (task_api.cc), called by RegisterApi.
void RegisterTaskApi(net::HttpServer& server, const Node& node);
// PUT/GET /artifacts/{sha256} over `store` (artifact_api.cc), called by RegisterApi.
// `admit` (optional) decides which hashes may be PUT: a node running the orchestrator accepts
// only artifacts a committed entry names (403 otherwise), so its disk holds nothing else.
void RegisterArtifactApi(net::HttpServer& server, ArtifactStore& store,
                         std::function<bool(const Hash32&)> admit = nullptr);

// The JSON of a submit outcome and its HTTP status.
net::HttpResponse SubmitResponse(const SubmitOutcome& o);

}  // namespace fedledger::node

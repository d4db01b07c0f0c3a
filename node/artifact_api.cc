// PUT/GET /artifacts/{sha256}: the node's content-addressed artifact store over HTTP
// (node/artifact_store.h). The hash in the path is checked against the body on receipt; the
// size limit is [artifacts] max_bytes (a per-route body limit of the server), so an oversized upload is
// refused with 413 before it is read to the end. The write (with its fsync) runs on the
// connection's io thread: a few ms for updates of a few MB.
#include "node/api.h"
#include "node/artifact_store.h"

namespace fedledger::node {

using net::HttpRequest;
using net::HttpResponse;
using net::Responder;

namespace {

Result<Hash32> HashParam(const HttpRequest& req) {
  auto h = Hash32::FromHex(req.Param("sha256"));
  if (!h.ok()) return Status::InvalidArgument("path: " + h.status().message());
  return *h;
}

}  // namespace

void RegisterArtifactApi(net::HttpServer& server, ArtifactStore& store,
                         std::function<bool(const Hash32&)> admit) {
  ArtifactStore* s = &store;
  server.Route("PUT", "/artifacts/{sha256}", [s, admit](HttpRequest& req, Responder res) {
    auto hash = HashParam(req);
    if (!hash.ok()) return (void)res.Send(HttpResponse::FromStatus(hash.status()));
    if (admit && !admit(*hash)) {
      return (void)res.Send(HttpResponse::Error(
          403, "artifact " + hash->Hex() +
                   " is not named by any committed MODEL_UPDATE, ROUND_AGGREGATE or "
                   "TASK_COMPLETE on this ledger (yet): commit the entry first"));
    }
    bool had = s->Contains(*hash);
    const size_t size = req.body.size();
    Status st = s->Put(*hash, std::make_shared<const std::string>(std::move(req.body)));
    if (st.code() == Status::Code::kResourceExhausted) {
      return (void)res.Send(HttpResponse::Error(413, st.message()));
    }
    if (!st.ok()) return (void)res.Send(HttpResponse::FromStatus(st));
    res.Send(HttpResponse::Json(had ? 200 : 201, {{"sha256", hash->Hex()},
                                                  {"size", size},
                                                  {"status", had ? "present" : "stored"}}));
  });
  server.Get("/artifacts/{sha256}", [s](const HttpRequest& req, Responder res) {
    auto hash = HashParam(req);
    if (!hash.ok()) return (void)res.Send(HttpResponse::FromStatus(hash.status()));
    auto bytes = s->Fetch(*hash);
    if (!bytes.ok()) return (void)res.Send(HttpResponse::FromStatus(bytes.status()));
    HttpResponse r;
    r.content_type = "application/octet-stream";
    r.shared_body = std::move(bytes).value();  // served from the store's memory, not copied
    res.Send(std::move(r));
  });
}

}  // namespace fedledger::node

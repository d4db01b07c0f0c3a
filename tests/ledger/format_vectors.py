#!/usr/bin/python3
"""An independent verifier of the docs/FORMAT.md test vectors, written from that document.

Uses only the Python standard library: hashlib for SHA-256, and secp256k1 / BIP-340 from the
textbook formulas (no secp256k1 module). It parses every vector line `label = hex` and the
`<!-- vector: export -->` block, then re-derives keys, ECDH, entry encodings, digests, leaf
hashes and signatures, the genesis block rules, block and vote hashes, the certificate rule,
the Merkle roots and proofs (RFC 9162), the LevelDB key layout, and verifies the export as
`fedledger audit verify-export` would.

Run: /usr/bin/python3 tests/ledger/format_vectors.py docs/FORMAT.md   (exit 0: all good)
tests/ledger/vectors_test.cc runs it as part of the ledger test suite.
"""
import hashlib
import json
import re
import sys

# ---------------------------------------------------------------- hashing

def sha256(b):
    return hashlib.sha256(b).digest()


def tagged(tag, msg):
    t = sha256(tag.encode())
    return sha256(t + t + msg)

# ---------------------------------------------------------------- secp256k1, BIP-340

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def point_add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and a[1] != b[1]:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], P - 2, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], P - 2, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return (x, (lam * (a[0] - x) - a[1]) % P)


def point_mul(pt, k):
    r = None
    for i in range(256):
        if (k >> i) & 1:
            r = point_add(r, pt)
        pt = point_add(pt, pt)
    return r


def lift_x(x):
    if x >= P:
        return None
    c = (pow(x, 3, P) + 7) % P
    y = pow(c, (P + 1) // 4, P)
    if pow(y, 2, P) != c:
        return None
    return (x, y if y % 2 == 0 else P - y)


def xbytes(pt):
    return pt[0].to_bytes(32, "big")


def pubkey_of(secret):
    d = int.from_bytes(secret, "big")
    assert 0 < d < N, "secret is not a valid scalar"
    return xbytes(point_mul(G, d))


def schnorr_verify(pk, msg, sig):
    pt = lift_x(int.from_bytes(pk, "big"))
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if pt is None or r >= P or s >= N:
        return False
    e = int.from_bytes(tagged("BIP0340/challenge", sig[:32] + pk + msg), "big") % N
    rp = point_add(point_mul(G, s), point_mul(pt, N - e))
    return rp is not None and rp[1] % 2 == 0 and rp[0] == r


def schnorr_sign(secret, msg, aux):
    """BIP-340 signing (reference algorithm). aux = 32 zero bytes is what libsecp256k1 does
    when it is given no auxiliary randomness, i.e. fedledger's deterministic signatures."""
    d0 = int.from_bytes(secret, "big")
    pt = point_mul(G, d0)
    d = d0 if pt[1] % 2 == 0 else N - d0
    t = (d ^ int.from_bytes(tagged("BIP0340/aux", aux), "big")).to_bytes(32, "big")
    k0 = int.from_bytes(tagged("BIP0340/nonce", t + xbytes(pt) + msg), "big") % N
    rpt = point_mul(G, k0)
    k = k0 if rpt[1] % 2 == 0 else N - k0
    e = int.from_bytes(tagged("BIP0340/challenge", xbytes(rpt) + xbytes(pt) + msg), "big") % N
    return xbytes(rpt) + ((k + e * d) % N).to_bytes(32, "big")

# ---------------------------------------------------------------- canonical decoding

class Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def raw(self, n):
        if self.pos + n > len(self.b):
            raise ValueError("truncated")
        out = self.b[self.pos:self.pos + n]
        self.pos += n
        return out

    def u(self, n):
        return int.from_bytes(self.raw(n), "little")

    def varint(self):
        v = 0
        for i in range(10):
            c = self.raw(1)[0]
            if i == 9 and c > 1:
                raise ValueError("varint overflows 64 bits")
            v |= (c & 0x7F) << (7 * i)
            if not c & 0x80:
                if c == 0 and i > 0:
                    raise ValueError("non-minimal varint")
                return v
        raise ValueError("varint longer than 10 bytes")

    def bytes_(self, maxlen):
        n = self.varint()
        if n > maxlen:
            raise ValueError("length over limit")
        return self.raw(n)

    def string(self, maxlen, multiline=False):
        s = self.bytes_(maxlen).decode("utf-8")  # strict: rejects over-long forms, surrogates
        for ch in s:
            o = ord(ch)
            if o == 0x7F or (o < 0x20 and not (multiline and ch in "\n\t")):
                raise ValueError("control character")
        return s

    def hash(self):
        return self.raw(32)

    def count(self, maxcount):
        n = self.varint()
        if n > maxcount:
            raise ValueError("count over limit")
        return n

    def done(self):
        return self.pos == len(self.b)


def enc_varint(v):
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def enc_bytes(b):
    return enc_varint(len(b)) + b


def le(v, n):
    return v.to_bytes(n, "little")


IDENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def ident(s):
    assert IDENT.match(s), "bad identifier %r" % s
    return s


def members(r):
    return [(ident(r.string(64)), r.hash()) for _ in range(r.count(256))]


def keylist(r):
    return [r.hash() for _ in range(r.count(256))]


def parse_payload(kind, r):
    if kind == 1:
        return {"genesis_time_ms": r.u(8), "validators": members(r), "partners": members(r)}
    if kind == 2:
        return {"dataset_id": ident(r.string(64)), "content_hash": r.hash(), "rows": r.u(8),
                "schema": r.string(4096), "description": r.string(4096, True)}
    if kind == 3:
        spec = {"task_id": ident(r.string(64)), "title": r.string(256),
                "description": r.string(4096, True)}
        spec["participants"] = [(r.hash(), ident(r.string(64))) for _ in range(r.count(256))]
        spec.update(aggregator=r.hash(), rounds=r.u(4), round_timeout_ms=r.u(8),
                    expires_at_ms=r.u(8), model=ident(r.string(64)))
        spec["settings"] = [(ident(r.string(64)), r.string(256)) for _ in range(r.count(128))]
        return spec
    if kind == 4:
        return {"task_id": ident(r.string(64)), "spec_hash": r.hash()}
    if kind == 5:
        return {"task_id": ident(r.string(64)), "spec_hash": r.hash(), "reason": r.string(4096, True)}
    if kind == 6:
        return {"task_id": ident(r.string(64)), "reason": r.string(4096, True)}
    if kind == 7:
        return {"task_id": ident(r.string(64)), "rounds_completed": r.u(4), "final_trunk_hash": r.hash()}
    if kind == 8:
        return {"task_id": ident(r.string(64)), "round": r.u(4), "dataset_id": ident(r.string(64)),
                "dataset_hash": r.hash(), "rows_read": r.u(8)}
    if kind == 9:
        return {"task_id": ident(r.string(64)), "round": r.u(4), "update_hash": r.hash(),
                "sample_count": r.u(8), "size_bytes": r.u(8), "attempt": r.u(4)}
    if kind == 10:
        return {"task_id": ident(r.string(64)), "round": r.u(4), "aggregate_hash": r.hash(),
                "contributors": keylist(r), "total_samples": r.u(8)}
    if kind == 11:
        return {"task_id": ident(r.string(64)), "round": r.u(4), "attempt": r.u(4),
                "dropped": keylist(r), "reason": r.string(4096, True)}
    raise ValueError("unknown kind %d" % kind)


def parse_entry(b):
    assert 64 <= len(b) <= 262144
    r = Reader(b[:-64])
    e = {"version": r.u(1)}
    assert e["version"] == 1
    e["chain_id"] = ident(r.string(64))
    e["kind"] = r.u(1)
    e["signer"] = r.hash()
    e["nonce"] = r.u(8)
    e["timestamp_ms"] = r.u(8)
    assert e["timestamp_ms"] != 0
    e["payload"] = parse_payload(e["kind"], r)
    assert r.done(), "payload does not end where the signature begins"
    e["signature"] = b[-64:]
    e["digest"] = tagged("fedledger/entry/v1", b[:-64])
    e["leaf_hash"] = sha256(b"\x00" + b)
    e["bytes"] = b
    assert lift_x(int.from_bytes(e["signer"], "big")) is not None, "signer is not a curve point"
    return e


def parse_header(b):
    r = Reader(b)
    h = {"version": r.u(1), "chain_id": ident(r.string(64)), "height": r.u(8),
         "prev_hash": r.hash(), "time_ms": r.u(8), "proposer": r.hash(),
         "entry_count": r.u(4), "log_size": r.u(8), "log_root": r.hash(),
         "validator_set_hash": r.hash()}
    assert h["version"] == 1 and r.done() and h["entry_count"] <= h["log_size"]
    h["hash"] = tagged("fedledger/block/v1", b)
    return h


def encode_header(h):
    return (b"\x01" + enc_bytes(h["chain_id"].encode()) + le(h["height"], 8) + h["prev_hash"] +
            le(h["time_ms"], 8) + h["proposer"] + le(h["entry_count"], 4) + le(h["log_size"], 8) +
            h["log_root"] + h["validator_set_hash"])


def validator_set_hash(vals):
    body = enc_varint(len(vals)) + b"".join(enc_bytes(n.encode()) + k for n, k in vals)
    return tagged("fedledger/validator-set/v1", body)


def precommit_unsigned(chain_id, height, rnd, block_hash, validator):
    return (b"\x01\x02" + enc_bytes(chain_id.encode()) + le(height, 8) + le(rnd, 4) +
            block_hash + validator)


def parse_certificate(b):
    r = Reader(b)
    c = {"height": r.u(8), "round": r.u(4), "block_hash": r.hash(), "sigs": []}
    for _ in range(r.count(256)):
        c["sigs"].append((r.u(2), r.raw(64)))
    assert r.done()
    return c


def verify_certificate(c, vals, chain_id, height, block_hash):
    assert c["height"] == height and c["block_hash"] == block_hash
    assert len(c["sigs"]) >= 2 * len(vals) // 3 + 1, "below quorum"
    last = -1
    for idx, sig in c["sigs"]:
        assert idx > last and idx < len(vals), "bad validator index"
        last = idx
        key = vals[idx][1]
        d = tagged("fedledger/vote/v1", precommit_unsigned(chain_id, height, c["round"], block_hash, key))
        assert schnorr_verify(key, d, sig), "certificate signature %d" % idx

# ---------------------------------------------------------------- RFC 9162

def node(l, r):
    return sha256(b"\x01" + l + r)


def split(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = split(len(leaves))
    return node(mth(leaves[:k]), mth(leaves[k:]))


def path(m, leaves):
    if len(leaves) <= 1:
        return []
    k = split(len(leaves))
    if m < k:
        return path(m, leaves[:k]) + [mth(leaves[k:])]
    return path(m - k, leaves[k:]) + [mth(leaves[:k])]


def subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = split(n)
    if m <= k:
        return subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def verify_inclusion(leaf, index, size, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, old_root, new_root, proof):
    if m == n:
        return not proof and old_root == new_root
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:
        proof = [old_root] + proof
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root

# ---------------------------------------------------------------- the checks

def load(path_):
    text = open(path_, encoding="utf-8").read()
    vec = {}
    for line in text.splitlines():
        m = re.match(r"^([a-z][a-z0-9_.\-]*) = ([0-9a-f]+)$", line)
        if m:
            assert m.group(1) not in vec, "duplicate label " + m.group(1)
            vec[m.group(1)] = bytes.fromhex(m.group(2))
    blocks = {}
    for m in re.finditer(r"<!-- vector: ([a-z-]+) -->\s*```[a-z]*\n(.*?)\n```", text, re.S):
        blocks[m.group(1)] = m.group(2) + "\n"
    return vec, blocks


def proof_list(vec, prefix):
    out, i = [], 0
    while "%s.%d" % (prefix, i) in vec:
        out.append(vec["%s.%d" % (prefix, i)])
        i += 1
    return out


def verify_chain(blocks, anchor=None):
    """verify-export, in brief: returns (genesis hash, log size, log root)."""
    lines = [json.loads(l) for l in blocks.strip("\n").split("\n")]
    first, body, end = lines[0], lines[1:-1], lines[-1]
    assert first["format"] == "fedledger-export" and first["version"] == 1
    assert end["type"] == "end" and end["blocks"] == len(body)
    leaves, nonces, vals, prev, chain = [], {}, None, None, None
    for height, line in enumerate(body):
        assert line["type"] == "block" and line["height"] == height
        h = parse_header(bytes.fromhex(line["header"]))
        assert h["height"] == height
        entries = [parse_entry(bytes.fromhex(x)) for x in line["entries"]]
        assert h["entry_count"] == len(entries)
        if height == 0:
            assert line["certificate"] is None and len(entries) == 1 and entries[0]["kind"] == 1
            g = entries[0]
            chain, vals = g["chain_id"], g["payload"]["validators"]
            expect = {"chain_id": chain, "height": 0, "prev_hash": bytes(32),
                      "time_ms": g["payload"]["genesis_time_ms"], "proposer": g["signer"],
                      "entry_count": 1, "log_size": 1, "log_root": g["leaf_hash"],
                      "validator_set_hash": validator_set_hash(vals)}
            assert encode_header(expect) == bytes.fromhex(line["header"]), "genesis header rule"
            genesis_hash = h["hash"]
            if anchor is not None:
                assert genesis_hash == anchor
        else:
            assert h["chain_id"] == chain and h["prev_hash"] == prev["hash"]
            assert h["time_ms"] >= prev["time_ms"]
            assert h["validator_set_hash"] == validator_set_hash(vals)
            assert h["proposer"] in [k for _, k in vals]
            verify_certificate(parse_certificate(bytes.fromhex(line["certificate"])), vals, chain,
                               height, h["hash"])
        for e in entries:
            assert e["chain_id"] == chain
            assert (e["kind"] == 1) == (height == 0)
            assert e["nonce"] > nonces.get(e["signer"], 0), "nonce replay"
            nonces[e["signer"]] = e["nonce"]
            assert schnorr_verify(e["signer"], e["digest"], e["signature"]), "entry signature"
            leaves.append(e["leaf_hash"])
        assert h["log_size"] == len(leaves) and h["log_root"] == mth(leaves)
        prev = h
    assert end["entries"] == len(leaves)
    assert first["genesis_hash"] == genesis_hash.hex() and first["height"] == len(body) - 1
    assert first["log_size"] == len(leaves) and first["log_root"] == mth(leaves).hex()
    assert first["head_hash"] == prev["hash"].hex()
    return genesis_hash, len(leaves), mth(leaves)


def main(doc):
    vec, blocks = load(doc)
    checked = set()

    def get(label):
        checked.add(label)
        return vec[label]

    def eq(label, value):
        assert get(label) == value, "mismatch: " + label

    for v in (0, 1, 127, 128, 300, 2**64 - 1):
        eq("varint.%d" % v, enc_varint(v))
        assert Reader(enc_varint(v)).varint() == v
    for bad in ("8000", "8100", "ffffffffffffffffff02", "8080808080808080808001", "80"):
        try:
            Reader(bytes.fromhex(bad)).varint()
            raise SystemExit("non-canonical varint %s accepted" % bad)
        except ValueError:
            pass

    names = ["alice", "bob"] + ["validator-%d" % i for i in range(4)]
    sk = {}
    for n in names:
        eq("key.%s.secret" % n, sha256(b"fedledger/dev-key" + n.encode()))
        sk[n] = get("key.%s.secret" % n)
        eq("key.%s.public" % n, pubkey_of(sk[n]))
    pk = {n: vec["key.%s.public" % n] for n in names}

    shared = sha256(xbytes(point_mul(lift_x(int.from_bytes(pk["bob"], "big")),
                                     int.from_bytes(sk["alice"], "big"))))
    shared2 = sha256(xbytes(point_mul(lift_x(int.from_bytes(pk["alice"], "big")),
                                      int.from_bytes(sk["bob"], "big"))))
    assert shared == shared2
    eq("ecdh.alice.bob", shared)

    for t in ["entry", "block", "vote", "validator-set", "task-spec", "peer-handshake", "peer-message",
              "peer-batch"]:
        eq("tag.%s.sha256" % t, sha256(("fedledger/%s/v1" % t).encode()))

    ents = {}
    for name, signer in [("genesis", "alice"), ("dataset_register", "alice"), ("model_update", "bob")]:
        e = parse_entry(get("entry.%s.bytes" % name))
        assert e["signer"] == pk[signer]
        eq("entry.%s.digest" % name, e["digest"])
        eq("entry.%s.leaf_hash" % name, e["leaf_hash"])
        eq("entry.%s.signature" % name, e["signature"])
        assert schnorr_verify(e["signer"], e["digest"], e["signature"]), name + " signature"
        assert schnorr_sign(sk[signer], e["digest"], bytes(32)) == e["signature"], name + " re-sign"
        ents[name] = e
    g = ents["genesis"]
    assert g["kind"] == 1 and ents["dataset_register"]["kind"] == 2 and ents["model_update"]["kind"] == 9
    vals = g["payload"]["validators"]
    assert [k for _, k in vals] == [pk["validator-%d" % i] for i in range(4)]
    eq("validator_set.hash", validator_set_hash(vals))

    h0 = parse_header(get("block.0.header"))
    expect0 = {"chain_id": g["chain_id"], "height": 0, "prev_hash": bytes(32),
               "time_ms": g["payload"]["genesis_time_ms"], "proposer": g["signer"],
               "entry_count": 1, "log_size": 1, "log_root": g["leaf_hash"],
               "validator_set_hash": validator_set_hash(vals)}
    assert encode_header(expect0) == vec["block.0.header"], "genesis header rule"
    eq("block.0.hash", h0["hash"])

    h1 = parse_header(get("block.1.header"))
    eq("block.1.hash", h1["hash"])
    assert h1["height"] == 1 and h1["prev_hash"] == h0["hash"] and h1["entry_count"] == 2
    assert h1["proposer"] == pk["validator-1"]  # round robin: (height + round) mod n
    leaves = [ents[n]["leaf_hash"] for n in ["genesis", "dataset_register", "model_update"]]
    assert h1["log_size"] == 3 and h1["log_root"] == mth(leaves)
    eq("block.1.bytes", vec["block.1.header"] + enc_varint(2) +
       enc_bytes(ents["dataset_register"]["bytes"]) + enc_bytes(ents["model_update"]["bytes"]))

    unsigned = precommit_unsigned(g["chain_id"], 1, 0, h1["hash"], pk["validator-0"])
    eq("vote.precommit.unsigned", unsigned)
    eq("vote.precommit.digest", tagged("fedledger/vote/v1", unsigned))
    vb = get("vote.precommit.bytes")
    assert vb[:-64] == unsigned and schnorr_verify(pk["validator-0"], vec["vote.precommit.digest"], vb[-64:])
    assert schnorr_sign(sk["validator-0"], vec["vote.precommit.digest"], bytes(32)) == vb[-64:]

    cert = parse_certificate(get("certificate.1.bytes"))
    verify_certificate(cert, vals, g["chain_id"], 1, h1["hash"])
    assert [i for i, _ in cert["sigs"]] == [0, 1, 2] and cert["sigs"][0][1] == vb[-64:]
    # Two signatures of four are not a quorum.
    try:
        verify_certificate(dict(cert, sigs=cert["sigs"][:2]), vals, g["chain_id"], 1, h1["hash"])
        raise SystemExit("a 2-of-4 certificate was accepted")
    except AssertionError:
        pass

    eq("merkle.empty_root", sha256(b""))
    eq("merkle.ledger.root.3", mth(leaves))
    ip = proof_list(vec, "merkle.ledger.inclusion.1.3")
    assert ip == path(1, leaves) and verify_inclusion(leaves[1], 1, 3, ip, mth(leaves))
    cp = proof_list(vec, "merkle.ledger.consistency.1.3")
    assert cp == subproof(1, leaves, True) and verify_consistency(1, 3, leaves[0], mth(leaves), cp)

    log7 = [sha256(b"\x00" + ("leaf-%d" % i).encode()) for i in range(7)]
    for i in range(7):
        eq("merkle.log7.leaf.%d" % i, log7[i])
    eq("merkle.log7.root.3", mth(log7[:3]))
    eq("merkle.log7.root.7", mth(log7))
    ip = proof_list(vec, "merkle.log7.inclusion.5.7")
    assert ip == path(5, log7) and verify_inclusion(log7[5], 5, 7, ip, mth(log7))
    assert not verify_inclusion(log7[4], 5, 7, ip, mth(log7))
    cp = proof_list(vec, "merkle.log7.consistency.3.7")
    assert cp == subproof(3, log7, True) and verify_consistency(3, 7, mth(log7[:3]), mth(log7), cp)
    assert not verify_consistency(3, 7, mth(log7[:2]), mth(log7), cp)
    for k in list(vec):
        if k.startswith("merkle.") and ".inclusion." in k or ".consistency." in k:
            checked.add(k)

    be = lambda v: v.to_bytes(8, "big")
    eq("store.key.meta_genesis", b"Mgenesis")
    eq("store.key.block.1", b"B" + be(1))
    eq("store.key.entry.2", b"E" + be(2))
    eq("store.key.node.1.0", b"E" + be(1) + b"\x01")  # after its last leaf, entry 1
    # Index keys name the block (height 1 holds log entries 1 and 2); values list offsets.
    eq("store.key.meta_format", b"Mformat")
    eq("store.value.meta_format", le(5, 4))
    # Block 1's commit record, in the log database: after its last leaf (entry 2, log size 3).
    eq("store.key.commit.1", b"E" + be(2) + b"\xff" + be(1))
    # The signer index's keys name a chunk of 256 heights (chunk 0: heights 0..255).
    eq("store.key.by_signer.bob.0", b"Is" + pk["bob"] + be(0))
    eq("store.value.by_signer.bob.0", le(1 % 256, 4) + le(1, 4) + le(1, 4))
    eq("store.key.by_kind.model_update.1", b"Ik\x09" + be(1))
    eq("store.value.by_kind.model_update.1", le(2 - 1, 4))
    eq("store.key.by_task.task-00001.1", b"It\x0a" + b"task-00001" + be(1))
    eq("store.key.by_time.1", b"Im" + be(ents["model_update"]["timestamp_ms"] // 60000) + be(1))
    eq("store.value.block.1", le(1, 8) + enc_bytes(vec["block.1.header"]) +
       enc_bytes(vec["certificate.1.bytes"]))

    # In the store listing every commit record repeats its block record byte for byte.
    listed = dict(line.split("  ") for line in blocks["store-listing"].splitlines() if "  " in line)
    for height, last in ((0, 0), (1, 2)):
        assert listed[(b"E" + be(last) + b"\xff" + be(height)).hex()] == listed[(b"B" + be(height)).hex()]

    genesis_hash, size, root = verify_chain(blocks["export"], anchor=h0["hash"])
    assert genesis_hash == h0["hash"] and size == 3 and root == h1["log_root"]

    proof = json.loads(blocks["inclusion-proof"])
    e = parse_entry(bytes.fromhex(proof["entry"]))
    sth = parse_header(bytes.fromhex(proof["signed_tree_head"]["header"]))
    verify_certificate(parse_certificate(bytes.fromhex(proof["signed_tree_head"]["certificate"])),
                       parse_entry(bytes.fromhex(proof["genesis_entry"]))["payload"]["validators"],
                       sth["chain_id"], sth["height"], sth["hash"])
    assert sth["log_size"] == proof["tree_size"]
    assert verify_inclusion(e["leaf_hash"], proof["leaf_index"], proof["tree_size"],
                            [bytes.fromhex(x) for x in proof["proof"]], sth["log_root"])

    unchecked = sorted(set(vec) - checked)
    assert not unchecked, "vectors not re-derived: %s" % unchecked
    print("format_vectors.py: %d vectors and the export re-derived independently: OK" % len(vec))


if __name__ == "__main__":
    try:
        main(sys.argv[1] if len(sys.argv) > 1 else "docs/FORMAT.md")
    except (AssertionError, KeyError, ValueError) as ex:
        import traceback
        traceback.print_exc()
        print("format_vectors.py: FAILED: %r" % (ex,))
        sys.exit(1)

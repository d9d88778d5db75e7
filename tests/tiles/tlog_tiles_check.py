#!/usr/bin/env python3
"""Verifies a transparency log through its C2SP tlog-tiles API alone.

Written from the specifications (c2sp.org/tlog-tiles, tlog-checkpoint,
signed-note, RFC 6962), not from Mailroom's code, with the Python standard
library and the Ed25519 of python3-cryptography:

  tlog_tiles_check.py URL VKEY [--size N] [--json-api]

URL is the log's prefix (the gateway's base URL), VKEY the signed-note
verifier key file (<name>+<hex key id>+<base64(0x01 || public key)>).

It fetches <URL>/checkpoint and checks its signature and origin, fetches
every level-0 tile, every entry bundle and every tile of the levels above
that the checkpoint's size needs (partial ones included), checks that each
entry hashes to its leaf, that each upper tile hash is the root of the full
tile below it, that the root recomputed by the RFC 6962 recursion over all
leaves is the checkpoint's, and the caching headers the spec asks for.
With --json-api it also checks that the entries and leaf hashes agree with
Mailroom's JSON routes (/v1/log/entries, /v1/log/proof/inclusion).
--size N fails unless the checkpoint is of size N.

Exit 0 and "ok: size N, root R, T tiles, B bundles" on success; 1 and
"FAIL: ..." on the first disagreement; 2 on a usage or fetch error.
"""
import base64
import hashlib
import json
import sys
import urllib.error
import urllib.request

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
HASH = 32


class Fail(Exception):
    pass


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(entry):
    return sha256(b"\x00" + entry)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def mth(leaves):
    """RFC 6962 section 2.1, by its recursion: k is the largest power of
    two smaller than n."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def tile_index_path(n):
    """<N> as zero-padded 3-digit elements, all but the last with an x."""
    groups = []
    while True:
        groups.append("%03d" % (n % 1000))
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def tile_path(level, n, width):
    p = "tile/%d/%s" % (level, tile_index_path(n))
    return p + (".p/%d" % width if width < TILE_WIDTH else "")


def bundle_path(n, width):
    p = "tile/entries/%s" % tile_index_path(n)
    return p + (".p/%d" % width if width < TILE_WIDTH else "")


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read(), r.headers
    except urllib.error.HTTPError as e:
        raise Fail("GET %s: HTTP %d" % (url, e.code))
    except OSError as e:
        print("tlog_tiles_check: GET %s: %s" % (url, e), file=sys.stderr)
        sys.exit(2)


def read_vkey(path):
    with open(path, encoding="utf-8") as f:
        line = f.read().strip()
    name, hexid, b64 = line.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        raise Fail("%s: not an Ed25519 signed-note verifier key" % path)
    key_id = sha256(name.encode() + b"\n" + raw)[:4]
    if key_id.hex() != hexid:
        raise Fail("%s: the key id does not match the key" % path)
    return name, key_id, raw[1:]


def open_checkpoint(text, name, key_id, pk):
    """signed-note: the body, a blank line, signature lines "— name b64"."""
    try:
        note = text.decode("utf-8")
    except UnicodeDecodeError:
        raise Fail("checkpoint is not UTF-8")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise Fail("checkpoint has no signature block")
    body, sigs = note[: cut + 1], note[cut + 2:]
    good = 0
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise Fail("bad signature line %r" % line)
        who, b64 = line[2:].rsplit(" ", 1)
        payload = base64.b64decode(b64, validate=True)
        if who != name or payload[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(pk).verify(payload[4:], body.encode())
        except InvalidSignature:
            raise Fail("checkpoint signature by %s does not verify" % name)
        good += 1
    if good != 1:
        raise Fail("checkpoint carries %d signatures by %s" % (good, name))
    lines = body.split("\n")
    if len(lines) < 4 or lines[0] != name:
        raise Fail("checkpoint origin %r is not %r" % (lines[0], name))
    size = int(lines[1])
    if str(size) != lines[1]:
        raise Fail("checkpoint size %r is not canonical" % lines[1])
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != HASH:
        raise Fail("checkpoint root is not 32 bytes")
    return size, root


def check_immutable(headers, what):
    cc = headers.get("Cache-Control", "")
    if "immutable" not in cc or "max-age=" not in cc:
        raise Fail("%s: Cache-Control %r is not long-lived" % (what, cc))
    if headers.get("Content-Type") != "application/octet-stream":
        raise Fail("%s: Content-Type %r" % (what, headers.get("Content-Type")))


def parse_bundle(data, width, what):
    entries, off = [], 0
    while off < len(data):
        if off + 2 > len(data):
            raise Fail("%s: truncated length" % what)
        n = int.from_bytes(data[off: off + 2], "big")
        if off + 2 + n > len(data):
            raise Fail("%s: entry runs past the bundle" % what)
        entries.append(data[off + 2: off + 2 + n])
        off += 2 + n
    if len(entries) != width:
        raise Fail("%s: %d entries, wanted %d" % (what, len(entries), width))
    return entries


def level_tiles(count):
    """(index, width) of the tiles one level needs for count hashes."""
    out = [(n, TILE_WIDTH) for n in range(count // TILE_WIDTH)]
    if count % TILE_WIDTH:
        out.append((count // TILE_WIDTH, count % TILE_WIDTH))
    return out


def verify(base, vkey, want_size=None, json_api=False):
    name, key_id, pk = read_vkey(vkey)
    text, headers = fetch(base + "/checkpoint")
    if headers.get("Content-Type") != "text/plain; charset=utf-8":
        raise Fail("checkpoint Content-Type %r" % headers.get("Content-Type"))
    cc = headers.get("Cache-Control", "")
    if "no-store" not in cc and not ("max-age=" in cc and int(cc.split("max-age=")[1].split(",")[0]) <= 10):
        raise Fail("checkpoint Cache-Control %r lets it be cached too long" % cc)
    size, root = open_checkpoint(text, name, key_id, pk)
    if want_size is not None and size != want_size:
        raise Fail("checkpoint size %d, wanted %d" % (size, want_size))

    leaves, entries, ntiles, nbundles = [], [], 0, 0
    for n, width in level_tiles(size):
        tile, h = fetch(base + "/" + tile_path(0, n, width))
        check_immutable(h, tile_path(0, n, width))
        if len(tile) != width * HASH:
            raise Fail("%s: %d bytes" % (tile_path(0, n, width), len(tile)))
        bundle, h = fetch(base + "/" + bundle_path(n, width))
        check_immutable(h, bundle_path(n, width))
        got = parse_bundle(bundle, width, bundle_path(n, width))
        for i in range(width):
            lh = tile[i * HASH: (i + 1) * HASH]
            if leaf_hash(got[i]) != lh:
                raise Fail("entry %d does not hash to its leaf in %s"
                           % (n * TILE_WIDTH + i, tile_path(0, n, width)))
            leaves.append(lh)
        entries.extend(got)
        ntiles += 1
        nbundles += 1

    # Each hash of a tile at level l is the root of the full tile below.
    below = leaves
    level, count = 1, size // TILE_WIDTH
    while count > 0:
        tiles_here = []
        for n, width in level_tiles(count):
            tile, h = fetch(base + "/" + tile_path(level, n, width))
            check_immutable(h, tile_path(level, n, width))
            if len(tile) != width * HASH:
                raise Fail("%s: %d bytes" % (tile_path(level, n, width), len(tile)))
            for i in range(width):
                j = n * TILE_WIDTH + i
                want = mth(below[j * TILE_WIDTH: (j + 1) * TILE_WIDTH])
                if tile[i * HASH: (i + 1) * HASH] != want:
                    raise Fail("%s: hash %d is not the root of the tile below"
                               % (tile_path(level, n, width), i))
                tiles_here.append(want)
            ntiles += 1
        below = tiles_here
        level += 1
        count //= TILE_WIDTH

    if mth(leaves) != root:
        raise Fail("the root of the %d leaves is not the checkpoint's" % size)

    # A tile the checkpoint does not cover must not be served: the level-0
    # tile one hash wider than the last one it needs (the full one when
    # that makes 256).
    past = tile_path(0, size // TILE_WIDTH, size % TILE_WIDTH + 1)
    try:
        fetch(base + "/" + past)
    except Fail as e:
        if "HTTP 404" not in str(e):
            raise
    else:
        raise Fail("%s is served, past the checkpoint's size" % past)

    if json_api:
        for start in range(0, size, 256):
            page, _ = fetch("%s/v1/log/entries?start=%d&end=%d" % (base, start, min(size, start + 256)))
            doc = json.loads(page)
            for k, e in enumerate(doc["entries"]):
                if base64.b64decode(e) != entries[start + k]:
                    raise Fail("entry %d differs between /v1/log/entries and the bundle" % (start + k))
        for i in sorted({0, size // 2, size - 1}):
            page, _ = fetch("%s/v1/log/proof/inclusion?index=%d&size=%d" % (base, i, size))
            doc = json.loads(page)
            if base64.b64decode(doc["leaf_hash"]) != leaves[i]:
                raise Fail("leaf %d differs between the inclusion proof and the tile" % i)

    return size, root, ntiles, nbundles


def self_test():
    """The recursion against the spec's own example shapes and the empty
    tree, with no server: size 0 has no tiles and the root H("")."""
    assert mth([]) == sha256(b"")
    assert level_tiles(0) == []
    assert tile_index_path(1234067) == "x001/x234/067"
    assert tile_index_path(5) == "005"
    # "a tree of size 70,000 ... 273 full level 0 tiles, one partial level
    # 0 tile of width 112, one full level 1 tile, one partial level 1 tile
    # of width 17, and one partial level 2 tile of width 1"
    l0, l1, l2 = level_tiles(70000), level_tiles(70000 // 256), level_tiles(70000 // 65536)
    assert len(l0) == 274 and l0[-1] == (273, 112)
    assert l1 == [(0, 256), (1, 17)] and l2 == [(0, 1)]
    # "a tree of size 256 will be represented by a full level 0 tile and a
    # partial level 1 tile of width 1"
    assert level_tiles(256) == [(0, 256)] and level_tiles(1) == [(0, 1)]


def main(argv):
    if len(argv) >= 2 and argv[1] == "--self-test":
        self_test()
        print("ok: self-test")
        return 0
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    base, vkey = argv[1].rstrip("/"), argv[2]
    want, json_api, rest = None, False, argv[3:]
    while rest:
        if rest[0] == "--size" and len(rest) > 1:
            want, rest = int(rest[1]), rest[2:]
        elif rest[0] == "--json-api":
            json_api, rest = True, rest[1:]
        else:
            print("tlog_tiles_check: unknown option %s" % rest[0], file=sys.stderr)
            return 2
    try:
        size, root, nt, nb = verify(base, vkey, want, json_api)
    except Fail as e:
        print("FAIL: %s" % e)
        return 1
    print("ok: size %d, root %s, %d tiles, %d bundles"
          % (size, base64.b64encode(root).decode(), nt, nb))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

#!/usr/bin/env python3
"""Re-date and re-sign an OCSP response, for the ocspxy tests (stdlib only).

usage: ocsp_retime.py IN.der OUT.der KEY.pem [--this SECS] [--next SECS]
                      [--produced SECS] [--break-signature]

Reads a DER OCSPResponse made by `openssl ocsp` (a BasicOCSPResponse),
sets producedAt, and thisUpdate/nextUpdate of every SingleResponse, to now
plus SECS (negative: in the past; nextUpdate only where it exists), then
signs the new ResponseData again with KEY (`openssl dgst -sha256 -sign`:
the signer's own key, so the result verifies, unless --break-signature
flips one bit of the signature).  This is how the tests get expired or
not-yet-valid responses without faking the clock.
"""

import subprocess
import sys
import time


def read_tlv(buf, pos):
    """Return (tag, header_len, content_start, end) of the TLV at pos."""
    tag = buf[pos]
    p = pos + 1
    if tag & 0x1F == 0x1F:
        raise ValueError("multi-byte tags not supported")
    n = buf[p]
    p += 1
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(buf[p:p + k], "big")
        p += k
    return tag, p, p + n


def children(content):
    """Split the content of a constructed TLV into [(tag, content, raw)]."""
    out = []
    pos = 0
    while pos < len(content):
        tag, start, end = read_tlv(content, pos)
        out.append([tag, content[start:end], content[pos:end]])
        pos = end
    return out


def enc(tag, content):
    n = len(content)
    if n < 0x80:
        ln = bytes([n])
    else:
        b = n.to_bytes((n.bit_length() + 7) // 8, "big")
        ln = bytes([0x80 | len(b)]) + b
    return bytes([tag]) + ln + content


def gtime(offset):
    return enc(0x18, time.strftime("%Y%m%d%H%M%SZ",
                                   time.gmtime(time.time() + offset)).encode())


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    src, dst, key = argv[1:4]
    opts = {"--this": None, "--next": None, "--produced": None}
    brk = False
    i = 4
    while i < len(argv):
        if argv[i] == "--break-signature":
            brk = True
            i += 1
        elif argv[i] in opts:
            opts[argv[i]] = int(argv[i + 1])
            i += 2
        else:
            sys.exit("unknown option " + argv[i])

    data = open(src, "rb").read()
    tag, s, e = read_tlv(data, 0)
    top = children(data[s:e])              # status, [0] responseBytes
    rb_tag, rb_content = top[1][0], top[1][1]
    rbs = children(children(rb_content)[0][1])   # oid, octet string
    basic = children(children(rbs[1][1])[0][1])  # tbs, alg, sig, [0] certs
    tbs = children(basic[0][1])

    new_tbs = b""
    for t, c, raw in tbs:
        if t == 0x18 and opts["--produced"] is not None:
            raw = gtime(opts["--produced"])
        elif t == 0x30:                      # responses
            singles = b""
            for st, sc, sraw in children(c):
                parts = b""
                for pt, pc, praw in children(sc):
                    if pt == 0x18 and opts["--this"] is not None:
                        praw = gtime(opts["--this"])
                    elif pt == 0xA0 and opts["--next"] is not None:
                        praw = enc(0xA0, gtime(opts["--next"]))
                    parts += praw
                singles += enc(st, parts)
            raw = enc(0x30, singles)
        new_tbs += raw
    tbs_der = enc(0x30, new_tbs)

    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key],
                         input=tbs_der, stdout=subprocess.PIPE,
                         check=True).stdout
    if brk:
        sig = sig[:-1] + bytes([sig[-1] ^ 0x01])
    parts = tbs_der + basic[1][2] + enc(0x03, b"\x00" + sig)
    for t, c, raw in basic[3:]:
        parts += raw
    basic_der = enc(0x30, parts)
    rb = enc(0x30, rbs[0][2] + enc(0x04, basic_der))
    out = enc(0x30, top[0][2] + enc(rb_tag, rb))
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main(sys.argv)

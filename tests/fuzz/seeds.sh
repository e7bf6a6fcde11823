#!/bin/sh
# seeds.sh DIR: seed corpora for the fuzz targets, made with real openssl
# requests and responses (a CA that signs its own, a delegated signer).
set -eu
out=$1
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT
mkdir -p "$out/request" "$out/get" "$out/response"
cd "$w"

mk_ca() { # name
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$1.key" -out "$1.pem" -subj "/CN=Fuzz $1" -days 30 \
	    2>/dev/null
}
mk_cert() { # ca name serial [ext]
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$2.key" -out "$2.csr" -subj "/CN=$2" 2>/dev/null
	printf '%s\n' "${4:-basicConstraints=CA:FALSE}" > "$2.ext"
	openssl x509 -req -in "$2.csr" -CA "$1.pem" -CAkey "$1.key" \
	    -set_serial "$3" -days 10 -extfile "$2.ext" -out "$2.pem" \
	    2>/dev/null
}
mk_ca ca1
mk_ca ca2
mk_cert ca1 leaf1 0x1001
mk_cert ca1 leaf5 0x05
mk_cert ca2 leaf2 0x2001
mk_cert ca2 signer2 0x99 "extendedKeyUsage=OCSPSigning"
printf 'V\t301231000000Z\t\t1001\tunknown\t/CN=leaf1\n' > ca1.idx
printf 'R\t301231000000Z\t250101000000Z\t05\tunknown\t/CN=leaf5\n' >> ca1.idx
printf 'V\t301231000000Z\t\t2001\tunknown\t/CN=leaf2\n' > ca2.idx

n=0
seed() { # ca cert signer signerkey [reqopts]
	n=$((n + 1))
	ca=$1 cert=$2 signer=$3 key=$4
	shift 4
	openssl ocsp "$@" -issuer "$ca.pem" -cert "$cert.pem" \
	    -reqout "req$n.der" >/dev/null 2>&1
	openssl ocsp -index "$ca.idx" -CA "$ca.pem" -rsigner "$signer.pem" \
	    -rkey "$key.key" -nmin 60 -reqin "req$n.der" \
	    -respout "resp$n.der" >/dev/null 2>&1
	cp "req$n.der" "$out/request/req$n"
	{ printf 'ocsp.example.net:80\n/ca/'; base64 -w0 "req$n.der"; } \
	    > "$out/get/get$n"
	openssl x509 -in "$ca.pem" -outform DER -out "$ca.der"
	python3 - "req$n.der" "$ca.der" "resp$n.der" "$out/response/resp$n" <<'PY'
import sys
rq, ca, rs = (open(f, 'rb').read() for f in sys.argv[1:4])
with open(sys.argv[4], 'wb') as f:
    f.write(len(rq).to_bytes(2, 'big') + rq + len(ca).to_bytes(2, 'big') +
            ca + rs)
PY
}
seed ca1 leaf1 ca1 ca1 -no_nonce
seed ca1 leaf1 ca1 ca1
seed ca1 leaf5 ca1 ca1 -no_nonce -sha256
seed ca2 leaf2 signer2 signer2 -no_nonce
seed ca2 leaf2 signer2 signer2

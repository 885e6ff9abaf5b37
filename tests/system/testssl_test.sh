#!/usr/bin/env bash
# testssl.sh, Debian's `testssl`, against pixelring's HTTPS listener on loopback: a full run
# (protocols, ciphers, forward secrecy, server defaults, HTTP headers, every vulnerability
# check, client simulations) with a certificate chain like a public CA's (ECDSA P-256 root,
# intermediate, leaf for px.test; the server sends leaf and intermediate, testssl is given the
# root with --add-ca). Offline: the name is pinned to 127.0.0.1 (--ip), no DNS (--nodns none),
# and no CRL or OCSP fetches (--phone-out stays off).
# Fails when testssl rates a finding HIGH or CRITICAL, or reports a scan problem (WARN,
# FATAL); prints a summary and every MEDIUM and LOW finding. A full run takes about two
# minutes on two cores.
# Usage: testssl_test.sh BUILD_DIR. Exit 77 without testssl, openssl or python3.
set -euo pipefail
build="$(cd "${1:?usage: testssl_test.sh BUILD_DIR}" && pwd)"
for tool in testssl openssl python3; do
    command -v "$tool" >/dev/null || { echo "skip: no $tool"; exit 77; }
done

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
system_test_dir testssl

# The chain. 90 days for the leaf, as Let's Encrypt issues (testssl warns under 60), and a CRL
# distribution point as a public CA's certificate carries (testssl rates a certificate with
# neither CRL nor OCSP URL HIGH); with --phone-out off it is never fetched.
name=px.test
ca="$tmp/ca"
mkdir -p "$ca"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
key "$ca/root.key"
key "$ca/intermediate.key"
key "$ca/leaf.key"
openssl req -x509 -new -key "$ca/root.key" -days 365 -subj "/CN=pixelring test root" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$ca/root.pem"
cat >"$ca/ext.cnf" <<EOF
[intermediate]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:$name
crlDistributionPoints = URI:http://127.0.0.1:9/intermediate.crl
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
EOF
issue() { # issue KEY SUBJECT DAYS ISSUER SECTION OUT
    openssl req -new -key "$1" -subj "$2" -out "$6.csr"
    openssl x509 -req -in "$6.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial -days "$3" \
        -sha256 -extfile "$ca/ext.cnf" -extensions "$5" -out "$6" 2>/dev/null
}
issue "$ca/intermediate.key" "/CN=pixelring test intermediate" 180 "$ca/root" intermediate \
    "$ca/intermediate.pem"
issue "$ca/leaf.key" "/CN=$name" 90 "$ca/intermediate" leaf "$ca/leaf.pem"
cat "$ca/leaf.pem" "$ca/intermediate.pem" >"$ca/fullchain.pem"
openssl verify -CAfile "$ca/root.pem" -untrusted "$ca/intermediate.pem" "$ca/leaf.pem" >/dev/null ||
    fail "the test chain does not verify"

"$build/tools/pixelring" --set server.listen=127.0.0.1:0 --set server.tls_listen=127.0.0.1:0 \
    --set admin.listen=127.0.0.1:0 --set server.workers=1 --set sink.type=file \
    --set sink.file.path="$tmp/events.ndjson" --set spool.dir="$tmp/spool" \
    --set tls.cert="$ca/fullchain.pem" --set tls.key="$ca/leaf.key" 2>"$tmp/pixelring.log" &
pids+=($!)
wait_for 10 "$tmp/pixelring.log" " listening on " || fail "pixelring did not start"
https_port="$(sed -nE 's/.* listening on .* https 127\.0\.0\.1:([0-9]+) .*/\1/p' "$tmp/pixelring.log")"
[ -n "$https_port" ] || fail "no https port in the start line"
echo "pixelring: https $https_port; $(testssl --version 2>/dev/null | grep -oE 'testssl +[0-9][0-9.]*' | head -n 1 | tr -s ' ')"

# The pixel's own URL, so the HTTP header checks see a pixel answer rather than a 404.
start=$SECONDS
timeout 780 testssl --quiet --warnings batch --color 0 --nodns none --ip 127.0.0.1 \
    --connect-timeout 10 --openssl-timeout 10 --add-ca "$ca/root.pem" \
    --jsonfile "$tmp/testssl.json" \
    "https://$name:$https_port/track/open.gif?campaignID=testssl" >"$tmp/testssl.log" 2>&1 ||
    fail "testssl exited with $?"
echo "testssl: $((SECONDS - start)) s"

python3 - "$tmp/testssl.json" <<'EOF'
import json, sys

findings = json.load(open(sys.argv[1]))
by_id = {}
for f in findings:
    by_id.setdefault(f["id"], []).append(f)

def first(id_, default="--"):
    return by_id[id_][0]["finding"] if id_ in by_id else default

protocols = ["SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3"]
offered = [p for p in protocols if first(p).startswith("offered")]
refused = [p for p in protocols if first(p).startswith("not offered")]
ciphers = [f["finding"].split()[-1] for f in findings if f["id"].startswith("cipher_x")]

print(f"protocols offered: {' '.join(offered)}; not offered: {' '.join(refused)}")
print(f"ciphers ({len(ciphers)}): {' '.join(ciphers)}")
print(f"cipher order: {first('cipher_order')}")
print(f"forward secrecy: {first('PFS')}; curves: {first('PFS_ECDHE_curves')}")
print(f"ALPN: {first('ALPN')}; chain of trust: {first('cert_chain_of_trust')}; "
      f"HTTP: {first('HTTP_status_code')}")
vulns = ["heartbleed", "CCS", "ticketbleed", "ROBOT", "secure_renego", "secure_client_renego",
         "CRIME_TLS", "BREACH", "POODLE_SSL", "fallback_SCSV", "SWEET32", "FREAK", "DROWN",
         "LOGJAM", "BEAST", "LUCKY13", "RC4"]
not_ok = [v for v in vulns if v not in by_id or by_id[v][0]["severity"] != "OK"]
print(f"vulnerabilities: {len(vulns) - len(not_ok)} of {len(vulns)} checks OK"
      + (f"; not OK: {' '.join(not_ok)}" if not_ok else ""))
if "overall_grade" in by_id:
    print(f"rating: {first('overall_grade')}")

bad = [] if offered and ciphers else ["  scan incomplete: no protocol or cipher reported"]
for f in findings:
    sev = f["severity"]
    line = f"  {sev} {f['id']}: {f['finding']}"
    if sev in ("MEDIUM", "LOW"):
        print(line)
    elif sev in ("HIGH", "CRITICAL", "WARN", "FATAL"):
        bad.append(line)
if bad:
    print("FAIL: testssl findings rated HIGH or CRITICAL, or scan problems:")
    print("\n".join(bad))
    sys.exit(1)
print("ok: no finding rated HIGH or CRITICAL")
EOF

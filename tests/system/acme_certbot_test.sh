#!/usr/bin/env bash
# Let's Encrypt's way, on loopback: Debian's certbot asks Debian's pebble (an ACME server, the
# test-only sibling of Let's Encrypt's) for a certificate for px.test with `certonly --webroot`
# into pixelring's tls.acme_webroot; pebble resolves px.test through pebble-challtestsrv's DNS
# to 127.0.0.1 and fetches the HTTP-01 challenge from pixelring's plain listener; certbot then
# runs certbot/pixelring-deploy-hook, which copies the certificate where tls.cert and tls.key
# point and sends SIGHUP. Checked: the challenge was answered by pixelring (route acme, 200),
# the reload took the new certificate, and curl gets a pixel over https with a certificate
# issued by pebble's CA.
# Usage: acme_certbot_test.sh BUILD_DIR. Exit 77 without certbot, pebble, openssl or curl.
set -euo pipefail
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="$(cd "${1:?usage: acme_certbot_test.sh BUILD_DIR}" && pwd)"
for tool in certbot pebble pebble-challtestsrv openssl curl python3; do
    command -v "$tool" >/dev/null || { echo "skip: no $tool"; exit 77; }
done

# shellcheck source=lib.sh source-path=SCRIPTDIR
source "$(dirname "$0")/lib.sh"
system_test_dir acme
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# pixelring, with a placeholder certificate where the hook will write (HTTPS needs one to start).
name=px.test
tls_dir="$tmp/tls"
mkdir -p "$tls_dir/$name" "$tmp/webroot"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 -subj "/CN=$name" \
    -addext "subjectAltName=DNS:$name" -keyout "$tls_dir/$name/privkey.pem" \
    -out "$tls_dir/$name/fullchain.pem" 2>/dev/null
"$build/tools/pixelring" --set server.listen=127.0.0.1:0 --set server.tls_listen=127.0.0.1:0 \
    --set admin.listen=127.0.0.1:0 --set server.workers=1 --set sink.type=file \
    --set sink.file.path="$tmp/events.ndjson" --set spool.dir="$tmp/spool" \
    --set tls.cert="$tls_dir/$name/fullchain.pem" --set tls.key="$tls_dir/$name/privkey.pem" \
    --set tls.acme_webroot="$tmp/webroot" 2>"$tmp/pixelring.log" &
pixelring=$!
pids+=("$pixelring")
wait_for 10 "$tmp/pixelring.log" " listening on " || fail "pixelring did not start"
start_line="$(grep " listening on " "$tmp/pixelring.log")"
http_port="$(sed -E 's/.* listening on 127\.0\.0\.1:([0-9]+) .*/\1/' <<<"$start_line")"
https_port="$(sed -E 's/.* https 127\.0\.0\.1:([0-9]+) .*/\1/' <<<"$start_line")"
admin_port="$(sed -E 's/.* admin 127\.0\.0\.1:([0-9]+) .*/\1/' <<<"$start_line")"
echo "pixelring: http $http_port, https $https_port, admin $admin_port"

# DNS: every name is 127.0.0.1.
dns_port="$(free_port)"
pebble-challtestsrv -defaultIPv4 127.0.0.1 -defaultIPv6 "" -dns01 "127.0.0.1:$dns_port" \
    -http01 "" -https01 "" -tlsalpn01 "" -management "127.0.0.1:$(free_port)" \
    >"$tmp/challtestsrv.log" 2>&1 &
pids+=($!)

# pebble: its API over https with a certificate of our own; HTTP-01 checks on pixelring's port.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$tmp/pebble-key.pem" -out "$tmp/pebble-cert.pem" 2>/dev/null
acme_port="$(free_port)"
management_port="$(free_port)"
cat >"$tmp/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:$acme_port",
            "managementListenAddress": "127.0.0.1:$management_port",
            "certificate": "$tmp/pebble-cert.pem", "privateKey": "$tmp/pebble-key.pem",
            "httpPort": $http_port, "tlsPort": $(free_port),
            "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 pebble -config "$tmp/pebble.json" \
    -dnsserver "127.0.0.1:$dns_port" >"$tmp/pebble.log" 2>&1 &
pids+=($!)
wait_for 10 "$tmp/pebble.log" "ACME directory available" || fail "pebble did not start"

# certbot, as an operator runs it once; its renewals run the same hook.
REQUESTS_CA_BUNDLE="$tmp/pebble-cert.pem" PIXELRING_TLS_DIR="$tls_dir" \
    PIXELRING_PID="$pixelring" timeout 120 certbot certonly --non-interactive --agree-tos \
    --register-unsafely-without-email --server "https://localhost:$acme_port/dir" \
    --config-dir "$tmp/le/config" --work-dir "$tmp/le/work" --logs-dir "$tmp/le/logs" \
    --webroot -w "$tmp/webroot" -d "$name" \
    --deploy-hook "$src/certbot/pixelring-deploy-hook" >"$tmp/certbot.log" 2>&1 ||
    fail "certbot certonly failed"
grep -q "copied from $tmp/le/config/live/$name" "$tmp/certbot.log" || fail "the hook did not run"
wait_for 10 "$tmp/pixelring.log" "tls: reloaded $tls_dir/$name/fullchain.pem" ||
    fail "pixelring did not reload the certificate"
grep "tls: reloaded" "$tmp/pixelring.log"

metrics="$(curl -sS "http://127.0.0.1:$admin_port/metrics")"
acme_200="$(sed -n 's/^pixelring_http_requests_total{route="acme",status="200"} //p' <<<"$metrics")"
[ "${acme_200:-0}" -ge 1 ] || fail "no ACME challenge answered 200 by pixelring: $acme_200"
echo "ok: pebble fetched the challenge from pixelring ($acme_200 requests, route acme, 200)"
grep -q '^pixelring_tls_reloads_total{result="ok"} 1$' <<<"$metrics" || fail "reloads_total"

# The certificate served now chains to pebble's root (fetched from its management API).
curl -sS --cacert "$tmp/pebble-cert.pem" "https://localhost:$management_port/roots/0" \
    >"$tmp/pebble-root.pem"
status="$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$tmp/pebble-root.pem" \
    --resolve "$name:$https_port:127.0.0.1" "https://$name:$https_port/track/open.gif")" ||
    fail "curl over https with pebble's root"
[ "$status" = 200 ] || fail "pixel over https: $status"
issuer="$(openssl s_client -connect "127.0.0.1:$https_port" -servername "$name" </dev/null \
    2>/dev/null | openssl x509 -noout -issuer)"
echo "served: $issuer"
grep -qi pebble <<<"$issuer" || fail "the served certificate is not pebble's: $issuer"
echo "ok: certbot --webroot through pixelring, the deploy hook and the reload"

#!/usr/bin/env bash
# dev-certs.sh DIR: a local certificate authority and the certificates custodyd and its callers
# use in development, the demo and the tests (never in production: the CA key sits beside them).
#
#   DIR/ca.crt, ca.key                   the CA (EC P-256, 10 years)
#   DIR/server.crt, server.key           custodyd: CN=custodyd, SAN DNS:localhost, IP:127.0.0.1, IP:::1
#   DIR/<role>.crt, <role>.key           one client certificate per role (platform, approver,
#                                        auditor, admin): CN=<role>-1, SAN URI:ringfence:role:<role>
#
# custodyd's [[roles]] match either form: subject = "CN=platform-1" or san = "ringfence:role:platform".
# Keys are written mode 0600. An existing DIR/ca.key is reused, so re-running adds nothing new
# to trust; delete DIR to start over.
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
mkdir -p "$dir"
umask 077
cd "$dir"

new_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

if [[ ! -f ca.key ]]; then
  new_key ca.key
  openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=Ringfence development CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out ca.crt
fi

# sign NAME SUBJECT EXTENSIONS: NAME.key and NAME.crt signed by the CA.
sign() {
  local name=$1 subject=$2 extensions=$3
  new_key "$name.key"
  openssl req -new -key "$name.key" -subj "$subject" -out "$name.csr"
  printf '%s\n' "$extensions" > "$name.ext"
  openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 825 \
    -extfile "$name.ext" -out "$name.crt" 2>/dev/null
  rm -f "$name.csr" "$name.ext"
}

sign server "/CN=custodyd" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

for role in platform approver auditor admin; do
  sign "$role" "/CN=$role-1" "basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth
subjectAltName=URI:ringfence:role:$role"
done
rm -f ca.srl
chmod 0644 ./*.crt
echo "certificates in $(pwd): ca.crt, server.{crt,key}, {platform,approver,auditor,admin}.{crt,key}"

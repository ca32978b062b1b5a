#!/usr/bin/env bash
# Starts the throwaway authentication rig in DIR (created if missing):
#   MIT KDC (realm TEST.LOCAL, alice +requires_preauth, HTTP/localhost keytab),
#   Apache + mod_auth_gssapi (/negotiate/ krb5, /ntlm/ gss-ntlmssp, /both/ IIS-like) reverse-proxying to the backend,
#   Apache HTTPS vhost with Basic auth (/basic/) signed by a throwaway CA,
#   pyspnego NTLM acceptor (one context per TCP connection, like IIS) + /bearer/ echo, proxying to the backend.
# The backend is $AUTH_BACKEND_URL (e.g. the CM emulator); when unset, a stub backend is started here.
# Writes DIR/auth.env (source it). Loopback only. Stop with stop.sh DIR (by recorded PID).
# Usage: start.sh DIR
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:?usage: start.sh DIR}"
VENV="${CM_AUTH_VENV:-/opt/cm-auth-venv}"
REALM=TEST.LOCAL
TLS_HOST=cm.rig.test

mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
if [ -n "$(ls -A "$DIR" 2>/dev/null)" ]; then
  if [ -f "$DIR/.cm-auth-rig" ]; then
    "$HERE/stop.sh" "$DIR" || true
    find "$DIR" -mindepth 1 -delete
  else
    echo "start.sh: $DIR is not empty and is not an auth rig directory; refusing to touch it" >&2
    exit 2
  fi
fi
touch "$DIR/.cm-auth-rig"
: > "$DIR/pids"
# On any failure, stop what was already started (by PID).
trap 'rc=$?; [ $rc -ne 0 ] && "$HERE/stop.sh" "$DIR"; exit $rc' EXIT

# ---- tools -------------------------------------------------------------------------------------------
need() { command -v "$1" >/dev/null 2>&1; }
missing=()
for t in krb5kdc kdb5_util kadmin.local kinit apache2 openssl htpasswd; do need "$t" || missing+=("$t"); done
[ -f /usr/lib/apache2/modules/mod_auth_gssapi.so ] || missing+=(mod_auth_gssapi)
[ -f /etc/gss/mech.d/mech.ntlmssp.conf ] || missing+=(gss-ntlmssp)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && need apt-get; then
    echo "start.sh: installing packages (missing: ${missing[*]})" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      krb5-kdc krb5-admin-server krb5-user libgssapi-krb5-2 apache2 apache2-utils libapache2-mod-auth-gssapi \
      gss-ntlmssp curl python3-venv openssl >/dev/null
  else
    echo "start.sh: missing tools: ${missing[*]}" >&2; exit 2
  fi
fi
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import spnego' 2>/dev/null; then
  PY=python3; [ -x /usr/bin/python3 ] && PY=/usr/bin/python3
  "$PY" -m venv "$VENV"
  "$VENV/bin/pip" install -q 'pyspnego>=0.12,<0.13'
fi

# ---- ports -------------------------------------------------------------------------------------------
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TAKEN=" "
pick_port() { # preferred port, else a free one from 20000+
  local p="$1"
  if port_free "$p" && [[ "$TAKEN" != *" $p "* ]]; then TAKEN+="$p "; echo "$p"; return; fi
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if port_free "$p" && [[ "$TAKEN" != *" $p "* ]]; then TAKEN+="$p "; echo "$p"; return; fi
  done
  echo "no free port" >&2; exit 3
}
KDC_PORT=$(pick_port 18888); HTTP_PORT=$(pick_port 18080); NTLM_PORT=$(pick_port 18081)
HTTPS_PORT=$(pick_port 18443); STUB_PORT=$(pick_port 18089)
PROXY_OPEN_PORT=$(pick_port 18128); PROXY_NEG_PORT=$(pick_port 18129); PROXY_BASIC_PORT=$(pick_port 18130)

wait_port() { # port pid name
  for _ in $(seq 1 100); do
    if ! port_free "$1"; then return 0; fi
    if ! kill -0 "$2" 2>/dev/null; then echo "start.sh: $3 exited; see $DIR/*.log" >&2; return 1; fi
    sleep 0.05
  done
  echo "start.sh: $3 did not open port $1" >&2; return 1
}
record() { # name pid
  echo "$1 $2 $(awk '{print $22}' "/proc/$2/stat" 2>/dev/null || echo 0)" >> "$DIR/pids"
}

# ---- root / www-data ---------------------------------------------------------------------------------
AS_ROOT=0; [ "$(id -u)" = 0 ] && AS_ROOT=1
WWW_GROUP=www-data
if [ $AS_ROOT = 1 ]; then
  getent group www-data >/dev/null || groupadd -r www-data
  getent passwd www-data >/dev/null || useradd -r -g www-data -d /var/www -s /usr/sbin/nologin www-data
  chmod 711 "$DIR"
fi
share_with_httpd() { if [ $AS_ROOT = 1 ]; then chgrp "$WWW_GROUP" "$@"; chmod 640 "$@"; else chmod 600 "$@"; fi; }

# ---- secrets -----------------------------------------------------------------------------------------
rnd() { openssl rand -hex "$1"; }
ALICE_PW="A1-$(rnd 12)"; BOB_PW="B2-$(rnd 12)"; CAROL_PW="C3-$(rnd 12)"; BEARER="eyJ$(rnd 24).$(rnd 16)"
MASTER_PW="$(rnd 16)"

# ---- Kerberos realm ----------------------------------------------------------------------------------
cat > "$DIR/krb5.conf" <<KRB
[libdefaults]
  default_realm = $REALM
  dns_lookup_realm = false
  dns_lookup_kdc = false
  dns_canonicalize_hostname = false
  rdns = false
  udp_preference_limit = 1
  default_ccache_name = FILE:$DIR/ccache
[realms]
  $REALM = {
    kdc = 127.0.0.1:$KDC_PORT
  }
[domain_realm]
  localhost = $REALM
  127.0.0.1 = $REALM
  .rig.test = $REALM
  rig.test = $REALM
KRB
cat > "$DIR/kdc.conf" <<KDC
[kdcdefaults]
  kdc_ports = $KDC_PORT
  kdc_tcp_ports = $KDC_PORT
[realms]
  $REALM = {
    database_name = $DIR/principal
    key_stash_file = $DIR/stash
    acl_file = $DIR/kadm5.acl
    kdc_listen = 127.0.0.1:$KDC_PORT
    kdc_tcp_listen = 127.0.0.1:$KDC_PORT
    max_life = 10h
  }
[logging]
  kdc = FILE:$DIR/kdc.log
KDC
: > "$DIR/kadm5.acl"
export KRB5_CONFIG="$DIR/krb5.conf" KRB5_KDC_PROFILE="$DIR/kdc.conf" KRB5CCNAME="FILE:$DIR/ccache"
kdb5_util create -s -r "$REALM" -P "$MASTER_PW" >/dev/null 2>&1
kadmin.local -q "addprinc +requires_preauth -pw $ALICE_PW alice@$REALM" >/dev/null 2>&1
kadmin.local -q "addprinc -randkey HTTP/localhost@$REALM" >/dev/null 2>&1
kadmin.local -q "ktadd -k $DIR/http.keytab HTTP/localhost@$REALM" >/dev/null 2>&1
# cm.rig.test: a name only the rig's proxies resolve (their hosts file), so a client must go through them.
kadmin.local -q "addprinc -randkey HTTP/$TLS_HOST@$REALM" >/dev/null 2>&1
kadmin.local -q "ktadd -k $DIR/http.keytab HTTP/$TLS_HOST@$REALM" >/dev/null 2>&1
share_with_httpd "$DIR/http.keytab"
krb5kdc -n -r "$REALM" -P "$DIR/krb5kdc.pid" > "$DIR/krb5kdc.out" 2>&1 &
KDC_PID=$!; record krb5kdc $KDC_PID
wait_port "$KDC_PORT" $KDC_PID krb5kdc

# ---- NTLM users, Basic users -------------------------------------------------------------------------
printf 'TESTDOM:bob:%s\n:bob:%s\n' "$BOB_PW" "$BOB_PW" > "$DIR/ntlm_users"
share_with_httpd "$DIR/ntlm_users"
htpasswd -bcB "$DIR/htpasswd" carol "$CAROL_PW" >/dev/null 2>&1
share_with_httpd "$DIR/htpasswd"

# ---- TLS: throwaway CA + localhost server cert ---------------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=cm-auth-rig test CA" \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout "$DIR/ca.key" -out "$DIR/ca.pem" >/dev/null 2>&1
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout "$DIR/server.key" -out "$DIR/server.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:localhost,DNS:%s,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n' "$TLS_HOST" > "$DIR/server.ext"
openssl x509 -req -in "$DIR/server.csr" -CA "$DIR/ca.pem" -CAkey "$DIR/ca.key" -CAcreateserial -days 2 \
  -extfile "$DIR/server.ext" -out "$DIR/server.pem" >/dev/null 2>&1
share_with_httpd "$DIR/server.key"

# ---- backend -----------------------------------------------------------------------------------------
if [ -z "${AUTH_BACKEND_URL:-}" ]; then
  "$VENV/bin/python" "$HERE/stub_backend.py" "$STUB_PORT" > "$DIR/stub-backend.log" 2>&1 &
  STUB_PID=$!; record stub-backend $STUB_PID
  wait_port "$STUB_PORT" $STUB_PID stub-backend
  AUTH_BACKEND_URL="http://127.0.0.1:$STUB_PORT"
fi
BACKEND="${AUTH_BACKEND_URL%/}"

# ---- Apache ------------------------------------------------------------------------------------------
mkdir -p "$DIR/rcache" "$DIR/run"
USERLINES=""
if [ $AS_ROOT = 1 ]; then
  chown www-data:www-data "$DIR/rcache"; USERLINES=$'User www-data\nGroup www-data'
fi
M=/usr/lib/apache2/modules
cat > "$DIR/httpd.conf" <<HTTPD
ServerRoot "$DIR"
ServerName localhost
DefaultRuntimeDir "$DIR/run"
PidFile "$DIR/httpd.pid"
Mutex file:$DIR/run default
$USERLINES
Listen 127.0.0.1:$HTTP_PORT
Listen 127.0.0.1:$HTTPS_PORT
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule authn_core_module $M/mod_authn_core.so
LoadModule authz_user_module $M/mod_authz_user.so
LoadModule authn_file_module $M/mod_authn_file.so
LoadModule auth_basic_module $M/mod_auth_basic.so
LoadModule auth_gssapi_module $M/mod_auth_gssapi.so
LoadModule headers_module $M/mod_headers.so
LoadModule setenvif_module $M/mod_setenvif.so
LoadModule proxy_module $M/mod_proxy.so
LoadModule proxy_http_module $M/mod_proxy_http.so
LoadModule ssl_module $M/mod_ssl.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
StartServers 1
ServerLimit 2
ThreadsPerChild 8
MaxRequestWorkers 16
KeepAlive On
KeepAliveTimeout 15
MaxKeepAliveRequests 100
ErrorLog "$DIR/httpd-error.log"
LogLevel warn auth_gssapi:info
# %k = keep-alive request number on this connection, %{remote}p = client port: proves NTLM legs shared a socket.
# a= the Authorization scheme the request carried (- = none): proves a session reuses an authenticated connection.
SetEnvIf Authorization "^([A-Za-z]+)" CM_AUTHZ=\$1
LogFormat "%a %{remote}p k=%k %>s \"%r\" user=%u a=%{CM_AUTHZ}e" rig
CustomLog "$DIR/httpd-access.log" rig
ProxyRequests Off
ProxyTimeout 30
SSLSessionCache shmcb:$DIR/run/ssl_scache(512000)

<VirtualHost 127.0.0.1:$HTTP_PORT>
  <Location "/negotiate/">
    AuthType GSSAPI
    AuthName "Negotiate (Kerberos)"
    GssapiAllowedMech krb5
    GssapiPublishMech On
    Require valid-user
    RequestHeader set X-Remote-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
    ProxyPass "$BACKEND/"
  </Location>
  <Location "/ntlm/">
    AuthType GSSAPI
    AuthName "NTLM (gss-ntlmssp)"
    GssapiAllowedMech ntlmssp
    GssapiConnectionBound On
    GssapiPublishMech On
    Require valid-user
    RequestHeader set X-Remote-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
    ProxyPass "$BACKEND/"
  </Location>
  <Location "/both/">
    AuthType GSSAPI
    AuthName "Negotiate + NTLM (IIS-like)"
    GssapiAllowedMech krb5
    GssapiAllowedMech ntlmssp
    GssapiConnectionBound On
    GssapiPublishMech On
    Require valid-user
    RequestHeader set X-Remote-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
    ProxyPass "$BACKEND/"
  </Location>
</VirtualHost>

<VirtualHost 127.0.0.1:$HTTPS_PORT>
  SSLEngine on
  SSLCertificateFile "$DIR/server.pem"
  SSLCertificateKeyFile "$DIR/server.key"
  <Location "/negotiate/">
    AuthType GSSAPI
    AuthName "Negotiate over TLS (IIS-like, connection-bound)"
    GssapiAllowedMech krb5
    GssapiConnectionBound On
    GssapiPublishMech On
    Require valid-user
    RequestHeader set X-Remote-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
    ProxyPass "$BACKEND/"
  </Location>
  <Location "/basic/">
    AuthType Basic
    AuthName "cm-auth-rig"
    AuthBasicProvider file
    AuthUserFile "$DIR/htpasswd"
    Require valid-user
    RequestHeader set X-Remote-User "%{REMOTE_USER}s"
    RequestHeader unset Authorization
    ProxyPass "$BACKEND/"
  </Location>
</VirtualHost>
HTTPD
KRB5_KTNAME="FILE:$DIR/http.keytab" KRB5RCACHEDIR="$DIR/rcache" NTLM_USER_FILE="$DIR/ntlm_users" \
  apache2 -f "$DIR/httpd.conf" -DFOREGROUND > "$DIR/httpd.out" 2>&1 &
HTTPD_PID=$!; record httpd $HTTPD_PID
wait_port "$HTTP_PORT" $HTTPD_PID httpd
wait_port "$HTTPS_PORT" $HTTPD_PID httpd

# ---- pyspnego NTLM acceptor + bearer echo ---------------------------------------------------------------
# The expected bearer token goes through the environment, not argv (argv is visible in ps).
NTLM_USER_FILE="$DIR/ntlm_users" AUTH_BACKEND_URL="$BACKEND" AUTH_RIG_BEARER_TOKEN="$BEARER" \
  "$VENV/bin/python" "$HERE/ntlm_acceptor.py" "$NTLM_PORT" "$DIR/ntlm-acceptor.log" \
  > "$DIR/ntlm-acceptor.out" 2>&1 &
NTLM_PID=$!; record ntlm-acceptor $NTLM_PID
wait_port "$NTLM_PORT" $NTLM_PID ntlm-acceptor

# ---- squid proxies: open (CONNECT anywhere), Negotiate-authenticated, Basic-authenticated ------------------
# Only the proxies resolve $TLS_HOST (their hosts file), so reaching it proves the request went through them.
PROXY_ENV=""
if command -v squid >/dev/null 2>&1; then
  printf '127.0.0.1 %s\n' "$TLS_HOST" > "$DIR/hosts"
  DAVE_PW="D4-$(rnd 12)"
  printf 'dave:%s\n' "$(openssl passwd -apr1 "$DAVE_PW")" > "$DIR/proxy_htpasswd"
  squid_conf() { # name port auth(open|negotiate|basic)
    local d="$DIR/squid-$1"; mkdir -p "$d"
    local auth=""
    case $3 in
      negotiate) auth="auth_param negotiate program /usr/lib/squid/negotiate_kerberos_auth -k $DIR/proxy.keytab -s HTTP/localhost@$REALM
auth_param negotiate children 2
auth_param negotiate keep_alive on
acl authed proxy_auth REQUIRED
http_access allow authed" ;;
      basic) auth="auth_param basic program /usr/lib/squid/basic_ncsa_auth $DIR/proxy_htpasswd
auth_param basic children 2
auth_param basic realm cm-rig-proxy
acl authed proxy_auth REQUIRED
http_access allow authed" ;;
      open) auth="http_access allow localhost" ;;
    esac
    cat > "$d/squid.conf" <<SQUID
http_port 127.0.0.1:$2
pid_filename $d/squid.pid
access_log stdio:$DIR/proxy-access.log squid
cache_log $d/cache.log
cache_store_log none
cache deny all
coredump_dir $d
hosts_file $DIR/hosts
dns_nameservers 127.0.0.1
shutdown_lifetime 0 seconds
acl deny_ports port 1 7
http_access deny CONNECT deny_ports
$auth
http_access deny all
SQUID
    if [ $AS_ROOT = 1 ]; then chown -R proxy "$d"; touch "$DIR/proxy-access.log"; chown proxy "$DIR/proxy-access.log"; fi
  }
  cp "$DIR/http.keytab" "$DIR/proxy.keytab" # the proxy's own copy, readable by its user
  if [ $AS_ROOT = 1 ]; then
    chgrp proxy "$DIR/proxy.keytab" "$DIR/proxy_htpasswd"; chmod 640 "$DIR/proxy.keytab" "$DIR/proxy_htpasswd"
    chmod 644 "$DIR/hosts"
  fi
  for spec in "open $PROXY_OPEN_PORT open" "negotiate $PROXY_NEG_PORT negotiate" "basic $PROXY_BASIC_PORT basic"; do
    set -- $spec
    squid_conf "$1" "$2" "$3"
    KRB5_CONFIG="$DIR/krb5.conf" KRB5RCACHETYPE=none squid -N -f "$DIR/squid-$1/squid.conf" > "$DIR/squid-$1/out.log" 2>&1 &
    pid=$!; record "squid-$1" $pid
    wait_port "$2" $pid "squid-$1"
  done
  PROXY_ENV="AUTH_PROXY_OPEN_URL=http://localhost:$PROXY_OPEN_PORT
AUTH_PROXY_NEGOTIATE_URL=http://localhost:$PROXY_NEG_PORT
AUTH_PROXY_BASIC_URL=http://localhost:$PROXY_BASIC_PORT
AUTH_PROXY_BASIC_USER=dave
AUTH_PROXY_BASIC_PASSWORD=$DAVE_PW
AUTH_PROXY_ACCESS_LOG=$DIR/proxy-access.log"
fi

# ---- ticket for alice (password on stdin, never on the command line) ------------------------------------
echo "$ALICE_PW" | kinit "alice@$REALM" >/dev/null

# ---- env file ----------------------------------------------------------------------------------------
H="http://127.0.0.1:$HTTP_PORT"; L="http://localhost:$HTTP_PORT"
cat > "$DIR/auth.env" <<ENV
# cm-smartcard auth rig ($DIR). Source it: set -a; . $DIR/auth.env; set +a
KRB5_CONFIG=$DIR/krb5.conf
KRB5CCNAME=FILE:$DIR/ccache
AUTH_RIG_DIR=$DIR
AUTH_BACKEND_URL=$BACKEND
AUTH_KRB5_REALM=$REALM
AUTH_KRB5_KDC=127.0.0.1:$KDC_PORT
AUTH_KRB5_USER=alice@$REALM
AUTH_KRB5_PASSWORD=$ALICE_PW
AUTH_KRB5_SPN=HTTP/localhost@$REALM
AUTH_KRB5_KEYTAB=$DIR/http.keytab
AUTH_NEGOTIATE_URL=$L/negotiate/
AUTH_IISLIKE_URL=$L/both/
AUTH_NTLM_GSS_URL=$L/ntlm/
AUTH_NTLM_URL=http://localhost:$NTLM_PORT/ntlm/
AUTH_NTLM_DOMAIN=TESTDOM
AUTH_NTLM_USER=bob
AUTH_NTLM_PASSWORD=$BOB_PW
AUTH_HTTPS_BASIC_URL=https://localhost:$HTTPS_PORT/basic/
AUTH_BASIC_USER=carol
AUTH_BASIC_PASSWORD=$CAROL_PW
AUTH_CA_FILE=$DIR/ca.pem
AUTH_BEARER_URL=http://localhost:$NTLM_PORT/bearer/
AUTH_BEARER_TOKEN=$BEARER
AUTH_HTTPD_ACCESS_LOG=$DIR/httpd-access.log
AUTH_NTLM_ACCEPTOR_LOG=$DIR/ntlm-acceptor.log
AUTH_TLS_HOST=$TLS_HOST
AUTH_HTTPS_PORT=$HTTPS_PORT
$PROXY_ENV
ENV
chmod 600 "$DIR/auth.env"
trap - EXIT
echo "$DIR/auth.env"

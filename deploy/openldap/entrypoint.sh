#!/bin/sh
# First start: build cn=config and the base tree from the templates; every start: run slapd in
# the foreground. Paths are variables so the test suite runs this script against Debian's slapd
# as an ordinary user in a temporary directory.
set -eu

: "${LDAP_BASE_DN:?set LDAP_BASE_DN, e.g. dc=example,dc=com}"
: "${LDAP_ADMIN_PASSWORD:?set LDAP_ADMIN_PASSWORD (the password of cn=admin,LDAP_BASE_DN)}"
CONF_DIR=${SLAPD_CONF_DIR:-/etc/ldap/slapd.d}
DATA_DIR=${SLAPD_DATA_DIR:-/var/lib/ldap}
RUN_DIR=${SLAPD_RUN_DIR:-/var/run/slapd}
MODULE_DIR=${SLAPD_MODULE_DIR:-/usr/lib/ldap}
SCHEMA_DIR=${SLAPD_SCHEMA_DIR:-/etc/ldap/schema}
TEMPLATES=${SLAPD_TEMPLATES:-/usr/local/share/scim-sync-openldap}
URLS=${SLAPD_URLS:-ldap:///}
SBIN=${SLAPD_SBIN:-/usr/sbin}
LOG_LEVEL=${SLAPD_LOG_LEVEL:-none}
RUN_AS=${SLAPD_USER-openldap}

case "$LDAP_BASE_DN" in
  dc=*) BASE_DC=${LDAP_BASE_DN%%,*}; BASE_DC=${BASE_DC#dc=} ;;
  *) echo "LDAP_BASE_DN must start with dc= (got '$LDAP_BASE_DN')" >&2; exit 2 ;;
esac

mkdir -p "$CONF_DIR" "$DATA_DIR" "$RUN_DIR"
if [ -z "$(ls -A "$CONF_DIR")" ]; then
  hash=$("$SBIN/slappasswd" -s "$LDAP_ADMIN_PASSWORD")
  render() {
    sed -e "s|@BASE_DN@|$LDAP_BASE_DN|g" -e "s|@BASE_DC@|$BASE_DC|g" \
        -e "s|@ROOT_PW_HASH@|$hash|g" -e "s|@DATA_DIR@|$DATA_DIR|g" \
        -e "s|@RUN_DIR@|$RUN_DIR|g" -e "s|@MODULE_DIR@|$MODULE_DIR|g" \
        -e "s|@SCHEMA_DIR@|$SCHEMA_DIR|g" "$1"
  }
  render "$TEMPLATES/config.ldif.template" | "$SBIN/slapadd" -n 0 -F "$CONF_DIR"
  render "$TEMPLATES/base.ldif.template" | "$SBIN/slapadd" -n 1 -F "$CONF_DIR"
  echo "openldap: created $LDAP_BASE_DN with ou=people, ou=groups and ou=disabled" >&2
fi

if [ "$(id -u)" = 0 ] && [ -n "$RUN_AS" ]; then
  chown -R "$RUN_AS:$RUN_AS" "$CONF_DIR" "$DATA_DIR" "$RUN_DIR"
  exec "$SBIN/slapd" -d "$LOG_LEVEL" -h "$URLS" -F "$CONF_DIR" -u "$RUN_AS" -g "$RUN_AS"
fi
exec "$SBIN/slapd" -d "$LOG_LEVEL" -h "$URLS" -F "$CONF_DIR"

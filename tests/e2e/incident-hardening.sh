#!/usr/bin/env bash
# incident-hardening.sh — placeholder replaced below
. "$(dirname "$0")/incident-lib.sh"
finish

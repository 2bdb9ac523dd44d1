#!/bin/sh
# Usage: rules_test.sh DEPLOY_PROMETHEUS_DIR
# The alerting rules and the example configuration under promtool: they
# load, and each alert fires and stays silent where gpumem-rules.test.yml says.
set -u
command -v promtool >/dev/null 2>&1 || { echo "SKIP: promtool is not installed (Debian: prometheus)"; exit 77; }
cd "$1" || exit 1
promtool check rules gpumem-rules.yml || { echo "FAIL: promtool check rules"; exit 1; }
promtool check config prometheus.yml || { echo "FAIL: promtool check config"; exit 1; }
promtool test rules gpumem-rules.test.yml || { echo "FAIL: promtool test rules"; exit 1; }
echo "ok: fleet.rules"

# Sourced by the scripts that need ../shared/data (tests, eval, benchmarks): exports
# CODEVEC_SHARED_DATA, the first of
#   1. $CODEVEC_SHARED_DATA as given,
#   2. shared/data beside this clone (../shared/data),
#   3. shared/data beside the repository this clone was made from, when that is a local path
#      (`git clone . $(mktemp -d)` puts the clone away from ../shared),
# that exists. When none does it stays unset and the suites that need the data fail saying so.
if [ -z "${CODEVEC_SHARED_DATA:-}" ]; then
  for _cand in "$(cd .. && pwd)/shared/data" \
               "$(git config --get remote.origin.url 2>/dev/null | sed -n 's|^file://||; /^\//p')/../shared/data"; do
    if [ -d "$_cand" ] && [ "$_cand" != "/../shared/data" ]; then
      CODEVEC_SHARED_DATA=$(cd "$_cand" && pwd)
      export CODEVEC_SHARED_DATA
      break
    fi
  done
  unset _cand
fi

#!/usr/bin/env bash
# The checks CI runs before the tests (.ci/run): the C# code as .editorconfig says (dotnet format --verify-no-changes
# over the solution), and shellcheck over every shell script of the repository: files ending in .sh and files whose
# first line runs sh or bash (the Debian maintainer scripts, .ci/run). Exits 1 on any finding, naming it.
#   scripts/lint.sh            both checks
#   scripts/lint.sh shell      shellcheck only
#   scripts/lint.sh format     dotnet format only
set -euo pipefail
cd "$(dirname "$0")/.."

shell_scripts() {
    local f
    while IFS= read -r -d '' f; do
        [[ -f $f ]] || continue
        case $f in
            *.sh) printf '%s\n' "$f" ;;
            *) if head -n 1 "$f" | grep -qE '^#!.*[/ ](ba|da)?sh( |$)'; then printf '%s\n' "$f"; fi ;;
        esac
    done < <(git ls-files -z)
}

check_shell() {
    command -v shellcheck >/dev/null || { echo "lint: shellcheck is not installed (apt-get install shellcheck)" >&2; return 1; }
    local scripts=()
    mapfile -t scripts < <(shell_scripts)
    echo "lint: shellcheck of ${#scripts[@]} scripts"
    # -x follows the files a script sources (its '# shellcheck source=' names them, from the repository's top).
    shellcheck -x "${scripts[@]}"
}

check_format() {
    echo "lint: dotnet format --verify-no-changes"
    dotnet format LibvirtShim.sln --verify-no-changes
}

rc=0
case ${1:-all} in
    shell) check_shell || rc=1 ;;
    format) check_format || rc=1 ;;
    all) check_shell || rc=1; check_format || rc=1 ;;
    *) echo "usage: $0 [shell|format]" >&2; exit 2 ;;
esac
if ((rc != 0)); then echo "lint: FAILED (see the findings above)" >&2; fi
exit $rc

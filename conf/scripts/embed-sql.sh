#!/bin/sh
# Compiles sql/ into hookd for `hookd migrate`:
#   embed-sql.sh <migration>... -- <function file applied first>... -- <function file>...
# Migrations become (version, text); function files (name, SHA-256 of the
# text, whether it is applied before the migrations, text).
set -eu

quote() {
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/      "/' -e 's/$/\\n"/' "$1"
}

echo '/* generated from sql/ by conf/scripts/embed-sql.sh */'
echo '#include "migrate.h"'
echo 'const hookd_migration_t hookd_migrations[] = {'
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    printf '    { "%s",\n' "$(basename "$1" .sql)"
    quote "$1"
    echo '    },'
    shift
done
echo '    { NULL, NULL }'
echo '};'

shift
early=1
echo 'const hookd_function_file_t hookd_function_files[] = {'
for f in "$@"; do
    if [ "$f" = "--" ]; then
        early=0
        continue
    fi
    sum=$(sha256sum "$f" | cut -c1-64)
    printf '    { "%s", "%s", %d,\n' "$(basename "$f" .sql)" "$sum" "$early"
    quote "$f"
    echo '    },'
done
echo '    { NULL, NULL, 0, NULL }'
echo '};'

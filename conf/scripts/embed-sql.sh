#!/bin/sh
# Turns sql/NNN_*.sql into a C table of (version, text) for `hookd migrate`.
set -eu
echo '/* generated from sql/ by conf/scripts/embed-sql.sh */'
echo '#include "migrate.h"'
echo 'const hookd_migration_t hookd_migrations[] = {'
for f in "$@"; do
    printf '    { "%s",\n' "$(basename "$f" .sql)"
    sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/      "/' -e 's/$/\\n"/' "$f"
    echo '    },'
done
echo '    { NULL, NULL }'
echo '};'

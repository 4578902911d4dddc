/*
 * Connecting without resolving inside an event loop: given host names,
 * libpq resolves them in PQconnectStart itself, blocking. So the names of a
 * conninfo (one host or a list, host=a,b target_session_attrs=read-write)
 * are listed first, resolved by the caller (nginx when it reads its
 * configuration, hookd in its resolver threads), and their addresses added
 * as hostaddr, in the same positions: libpq then tries the hosts in order
 * without resolving anything.
 */

#ifndef HOOKD_CONNINFO_H
#define HOOKD_CONNINFO_H

typedef struct {
    int     nhosts;
    /* per host: a name to resolve, or NULL (an address, a socket
       directory, or hostaddr given already) */
    char  **names;
    int     nnames;
} hookd_conninfo_hosts_t;

/* 0, or -1 with *err, a message to free() */
int hookd_conninfo_hosts(const char *conninfo, hookd_conninfo_hosts_t *h,
    char **err);
void hookd_conninfo_hosts_free(hookd_conninfo_hosts_t *h);

/*
 * The conninfo with hostaddr set (addrs[i], numeric, for each name; addrs
 * may be NULL when there is none), and application_name unless it has one;
 * to free(). NULL: out of memory.
 */
char *hookd_conninfo_pin(const char *conninfo, const hookd_conninfo_hosts_t *h,
    char *const *addrs, const char *application_name);

#endif /* HOOKD_CONNINFO_H */

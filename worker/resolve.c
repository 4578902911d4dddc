#include <netdb.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "resolve.h"


#define HOOKD_RESOLVE_THREADS  4     /* so that one slow name holds no other */


typedef struct hookd_lookup_s  hookd_lookup_t;

struct hookd_lookup_s {
    hookd_lookup_t           *next;
    char                     *host;
    hookd_resolved_pt         done;
    void                     *data;
    int                       error;
    int                       naddrs;
    struct sockaddr_storage   addrs[HOOKD_RESOLVE_MAX];
};

struct hookd_resolver_s {
    struct ev_loop   *loop;
    ev_async          answered;
    pthread_mutex_t   lock;
    pthread_cond_t    wake;
    hookd_lookup_t   *asked, *asked_last;     /* for the threads, in order */
    hookd_lookup_t   *answers;                /* for the loop */
    int               stopping;
    int               nthreads;
    pthread_t         threads[HOOKD_RESOLVE_THREADS];
};


static void *hookd_resolver_thread(void *arg);
static void hookd_on_answered(struct ev_loop *loop, ev_async *w, int revents);


hookd_resolver_t *
hookd_resolver_new(struct ev_loop *loop)
{
    hookd_resolver_t  *r;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }

    r->loop = loop;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    ev_async_init(&r->answered, hookd_on_answered);
    r->answered.data = r;
    ev_async_start(loop, &r->answered);

    while (r->nthreads < HOOKD_RESOLVE_THREADS
           && pthread_create(&r->threads[r->nthreads], NULL,
                             hookd_resolver_thread, r) == 0)
    {
        r->nthreads++;
    }

    if (r->nthreads == 0) {
        hookd_resolver_free(r);
        return NULL;
    }

    return r;
}


/* lookups still unanswered (a drain that timed out) are dropped */
void
hookd_resolver_free(hookd_resolver_t *r)
{
    int              i;
    hookd_lookup_t  *l, *next;

    if (r == NULL) {
        return;
    }

    pthread_mutex_lock(&r->lock);
    r->stopping = 1;
    pthread_cond_broadcast(&r->wake);
    pthread_mutex_unlock(&r->lock);

    for (i = 0; i < r->nthreads; i++) {
        pthread_join(r->threads[i], NULL);
    }

    for (l = r->answers; l; l = next) {
        next = l->next;
        free(l->host);
        free(l);
    }

    ev_async_stop(r->loop, &r->answered);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}


int
hookd_resolve(hookd_resolver_t *r, const char *host, hookd_resolved_pt done,
    void *data)
{
    hookd_lookup_t  *l;

    l = calloc(1, sizeof(*l));
    if (l == NULL || (l->host = strdup(host)) == NULL) {
        free(l);
        return -1;
    }

    l->done = done;
    l->data = data;

    pthread_mutex_lock(&r->lock);

    if (r->asked_last) {
        r->asked_last->next = l;
    } else {
        r->asked = l;
    }

    r->asked_last = l;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);

    return 0;
}


static void *
hookd_resolver_thread(void *arg)
{
    hookd_resolver_t  *r = arg;
    hookd_lookup_t    *l;
    struct addrinfo    hints, *res, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;

    for ( ;; ) {
        pthread_mutex_lock(&r->lock);

        while (r->asked == NULL && !r->stopping) {
            pthread_cond_wait(&r->wake, &r->lock);
        }

        if (r->stopping) {
            while ((l = r->asked) != NULL) {
                r->asked = l->next;
                free(l->host);
                free(l);
            }

            r->asked_last = NULL;
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }

        l = r->asked;
        r->asked = l->next;
        if (r->asked == NULL) {
            r->asked_last = NULL;
        }

        pthread_mutex_unlock(&r->lock);

        l->error = getaddrinfo(l->host, NULL, &hints, &res);

        if (l->error == 0) {
            for (ai = res; ai && l->naddrs < HOOKD_RESOLVE_MAX;
                 ai = ai->ai_next)
            {
                if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
                    && ai->ai_addrlen <= sizeof(struct sockaddr_storage))
                {
                    memcpy(&l->addrs[l->naddrs++], ai->ai_addr,
                           ai->ai_addrlen);
                }
            }

            freeaddrinfo(res);

            if (l->naddrs == 0) {
                l->error = EAI_NONAME;
            }
        }

        pthread_mutex_lock(&r->lock);
        l->next = r->answers;
        r->answers = l;
        pthread_mutex_unlock(&r->lock);

        ev_async_send(r->loop, &r->answered);
    }
}


static void
hookd_on_answered(struct ev_loop *loop, ev_async *w, int revents)
{
    hookd_resolver_t  *r = w->data;
    hookd_lookup_t    *l, *next;

    pthread_mutex_lock(&r->lock);
    l = r->answers;
    r->answers = NULL;
    pthread_mutex_unlock(&r->lock);

    for ( ; l; l = next) {
        next = l->next;
        l->done(l->data, l->error, l->addrs, l->naddrs);
        free(l->host);
        free(l);
    }
}

/*
 * Private to the live tail: ngx_http_hookd_tail_feed.c (the worker's
 * LISTEN connection, the ids it has seen in commit order, and one fetch
 * per notification for every client) and ngx_http_hookd_tail.c (one
 * client's Server-Sent Events stream: its replay, its buffer, its end).
 */

#ifndef _NGX_HTTP_HOOKD_TAIL_H_INCLUDED_
#define _NGX_HTTP_HOOKD_TAIL_H_INCLUDED_


#include "ngx_http_hookd_module.h"


/* ids of events and attempts: "evt_" or "att_" and 28 hex digits */
#define NGX_HTTP_HOOKD_TAIL_ID_LEN   32
/* the ids a worker remembers, for an exact resume (docs/portal.md) */
#define NGX_HTTP_HOOKD_TAIL_RING     65536
/* at most this many messages replayed on a resume */
#define NGX_HTTP_HOOKD_TAIL_DEPTH    1000
#define NGX_HTTP_HOOKD_TAIL_HEARTBEAT  15000


typedef struct ngx_http_hookd_tail_app_s     ngx_http_hookd_tail_app_t;
typedef struct ngx_http_hookd_tail_client_s  ngx_http_hookd_tail_client_t;
typedef struct ngx_http_hookd_tail_fetch_s   ngx_http_hookd_tail_fetch_t;


/* the clients of one application in this worker */
struct ngx_http_hookd_tail_app_s {
    ngx_queue_t                     queue;
    ngx_queue_t                     clients;
    ngx_uint_t                      nclients;
    uint32_t                        hash;
    ngx_str_t                       id;
    /* some client is narrowed by labels: rows' labels are parsed */
    ngx_uint_t                      labelled;
};


/* one stream */
struct ngx_http_hookd_tail_client_s {
    ngx_queue_t                     queue;       /* in its app's clients */
    ngx_http_request_t             *r;
    ngx_http_hookd_tail_app_t      *app;
    u_char                          key_hash[HOOKD_KEY_HASH_LEN];
    json_t                         *labels;      /* NULL: every customer */
    ngx_msec_t                      expires;
    ngx_msec_t                      last_write;
    size_t                          limit;       /* hookd_tail_buffer */
    /* what is to be sent; while the replay is fetched, the live messages
       wait in held; out is what nginx is sending */
    ngx_str_t                       pend;
    size_t                          pend_cap;
    ngx_str_t                       held;
    size_t                          held_cap;
    u_char                         *out;
    size_t                          out_cap;
    ngx_buf_t                       out_buf;
    ngx_chain_t                     out_cl;
    /* the ids PostgreSQL replayed, sorted, kept out of the live messages
       for a while: those may come again */
    u_char                         *seen;
    ngx_uint_t                      nseen;
    ngx_msec_t                      seen_until;
    /* the replay in flight: the live messages wait in held meanwhile */
    ngx_http_hookd_tail_fetch_t    *replay;
    ngx_event_t                     finish;
    ngx_int_t                       finish_rc;
    unsigned                        registered:1;
    unsigned                        sending:1;
    unsigned                        ending:1;
    unsigned                        has_expiry:1;
};


/* a batch of messages to fetch and whom they are for */
struct ngx_http_hookd_tail_fetch_s {
    ngx_http_hookd_job_t            job;
    /* a client's replay (its client NULL once the stream ended), or the
       feed's fetch, for every client */
    ngx_http_hookd_tail_client_t   *client;
    unsigned                        replay:1;
    u_char                         *lines;
    size_t                          len;
    size_t                          cap;
};


/* ngx_http_hookd_tail_feed.c (and what ngx_http_hookd_module.h declares) */
/* the ring position after the last id seen */
uint64_t ngx_http_hookd_tail_head(void);
/* the oldest position whose successors are all known */
uint64_t ngx_http_hookd_tail_floor(void);
/* the worker's feed is listening, so a stream started now misses nothing */
ngx_uint_t ngx_http_hookd_tail_live(void);
/* where an id is in the ring, or NGX_DECLINED */
ngx_int_t ngx_http_hookd_tail_find(const u_char *id, size_t len,
    uint64_t *pos);
/*
 * Adds to f the lines for the ids of app after position from, up to head;
 * at most NGX_HTTP_HOOKD_TAIL_DEPTH of the newest. Returns how many were
 * left out.
 */
ngx_int_t ngx_http_hookd_tail_since(ngx_http_hookd_tail_fetch_t *f,
    ngx_str_t *app, uint64_t from, uint64_t head, ngx_uint_t *skipped);
ngx_http_hookd_tail_app_t *ngx_http_hookd_tail_app(ngx_str_t *id,
    ngx_uint_t create);
ngx_int_t ngx_http_hookd_tail_post(ngx_http_hookd_tail_fetch_t *f);
/* room for more bytes after len in a buffer of ngx_alloc, up to max */
ngx_int_t ngx_http_hookd_tail_reserve(u_char **data, size_t len, size_t *cap,
    size_t more, size_t max, ngx_log_t *log);
ngx_int_t ngx_http_hookd_tail_line(ngx_http_hookd_tail_fetch_t *f,
    u_char kind, ngx_str_t *app, const u_char *id);
/* each stream, for the tick and for revocations */
typedef void (*ngx_http_hookd_tail_each_pt)(ngx_http_hookd_tail_client_t *c,
    void *data);
void ngx_http_hookd_tail_each(ngx_http_hookd_tail_each_pt handler,
    void *data);

/* ngx_http_hookd_tail.c */
/* adds a message to what the client is to be sent */
void ngx_http_hookd_tail_message(ngx_http_hookd_tail_client_t *client,
    ngx_str_t *id, json_t *labels, ngx_str_t *msg);
/* sends what it has: for each client, once per fetch */
void ngx_http_hookd_tail_send(ngx_http_hookd_tail_client_t *client,
    void *data);
void ngx_http_hookd_tail_replayed(ngx_http_hookd_tail_client_t *client,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int rows);
/* ends a stream; reason: "revoked", "expired", "restarting", "lagging" */
void ngx_http_hookd_tail_end(ngx_http_hookd_tail_client_t *client,
    const char *reason);
/* closes a stream without a word: a client that does not read, or, now,
   the worker's exit */
void ngx_http_hookd_tail_drop(ngx_http_hookd_tail_client_t *client,
    ngx_uint_t now);
void ngx_http_hookd_tail_tick(ngx_http_hookd_tail_client_t *client,
    void *data);
void ngx_http_hookd_tail_revoked(ngx_http_hookd_tail_client_t *client,
    void *data);
/* ngx_http_hookd_tail_send.c */
/* adds to what the client is to be sent; NGX_DECLINED past its buffer */
ngx_int_t ngx_http_hookd_tail_append(ngx_http_hookd_tail_client_t *client,
    ngx_str_t *to, size_t *cap, const u_char *data, size_t len);
/* a message without an id, which leaves the client's Last-Event-ID be */
ngx_int_t ngx_http_hookd_tail_event(ngx_http_hookd_tail_client_t *client,
    const char *event, const char *fmt, ...);
void ngx_http_hookd_tail_flush(ngx_http_hookd_tail_client_t *client);
/* the request's write handler while it streams */
void ngx_http_hookd_tail_write(ngx_http_request_t *r);
/* the posted end of a stream (client->finish's handler) */
void ngx_http_hookd_tail_finish(ngx_event_t *ev);
/* the request's cleanup: the client leaves the feed, its buffers go */
void ngx_http_hookd_tail_cleanup(void *data);

/* an SSE message: id, event and data lines, and the blank line */
ngx_int_t ngx_http_hookd_tail_format(ngx_str_t *out, const char *id,
    size_t id_len, const char *event, const char *data, size_t data_len);


#endif /* _NGX_HTTP_HOOKD_TAIL_H_INCLUDED_ */

/*
 * GET /v1/apps/{app}/tail: one client's stream of Server-Sent Events
 * (docs/portal.md, "The live tail"). hookd.admin says who may tail what;
 * the stream then starts with what the client missed (from the worker's
 * ring, exactly, or from PostgreSQL with an overlap), and goes on with
 * what the feed (ngx_http_hookd_tail_feed.c) hands it. A client that does
 * not read is dropped once its buffer is full; a stream ends when its
 * credential is revoked or expires, or its worker shuts down.
 */

#include "ngx_http_hookd_tail.h"


static ngx_int_t ngx_http_hookd_tail_append(ngx_http_hookd_tail_client_t *c,
    ngx_str_t *to, size_t *cap, const u_char *data, size_t len);
static void ngx_http_hookd_tail_flush(ngx_http_hookd_tail_client_t *client);

static void ngx_http_hookd_tail_write(ngx_http_request_t *r);
static void ngx_http_hookd_tail_unregister(
    ngx_http_hookd_tail_client_t *client);
static void ngx_http_hookd_tail_finish(ngx_event_t *ev);
static void ngx_http_hookd_tail_cleanup(void *data);
static ngx_int_t ngx_http_hookd_tail_event(
    ngx_http_hookd_tail_client_t *client, const char *event,
    const char *fmt, ...);
static ngx_uint_t ngx_http_hookd_tail_matches(json_t *have, json_t *want);
static int ngx_libc_cdecl ngx_http_hookd_tail_id_cmp(const void *a,
    const void *b);


ngx_int_t
ngx_http_hookd_tail_prepare(ngx_http_request_t *r, json_t *req)
{
    json_t                *tail;
    uint64_t               pos;
    ngx_str_t              cursor;
    ngx_table_elt_t       *h;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    ctx->tail = 1;
    ctx->tail_from = ngx_http_hookd_tail_head();

    h = ngx_http_hookd_find_header(r, "last-event-id",
                                   sizeof("last-event-id") - 1);
    ngx_str_null(&cursor);

    if (h != NULL) {
        cursor = h->value;

    } else if (ngx_http_arg(r, (u_char *) "last_event_id",
                            sizeof("last_event_id") - 1, &cursor) != NGX_OK)
    {
        ngx_str_null(&cursor);
    }

    if (cursor.len == 0) {
        tail = json_object();

    } else if (ngx_http_hookd_tail_find(cursor.data, cursor.len, &pos)
               == NGX_OK)
    {
        ctx->tail_from = pos;
        tail = json_object();

    } else {
        tail = json_pack("{s:s%}", "from", (char *) cursor.data,
                         (size_t) cursor.len);
    }

    if (tail == NULL || json_object_set_new(req, "tail", tail) != 0) {
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_tail_start(ngx_http_request_t *r, const char *json,
    size_t len)
{
    json_t                        *reply, *replay, *m, *labels, *expires;
    uint64_t                       head, from;
    ngx_str_t                      app_id, msg, type;
    ngx_int_t                      rc;
    ngx_uint_t                     i, skipped;
    const char                    *id, *event, *data;
    ngx_http_cleanup_t            *cln;
    ngx_http_hookd_ctx_t          *ctx;
    ngx_http_hookd_loc_conf_t     *hlcf;
    ngx_http_hookd_tail_fetch_t   *f;
    ngx_http_hookd_tail_client_t  *client;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);

    reply = json_loadb(json, len, 0, NULL);
    if (reply == NULL
        || json_unpack(reply, "{s:s%, s:o, s:o, s:o}",
                       "app_id", &id, &app_id.len, "labels", &labels,
                       "expires_in", &expires, "replay", &replay) != 0
        || !json_is_array(replay))
    {
        json_decref(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    app_id.data = (u_char *) id;

    client = ngx_pcalloc(r->pool, sizeof(ngx_http_hookd_tail_client_t));
    cln = ngx_http_cleanup_add(r, 0);
    if (client == NULL || cln == NULL) {
        json_decref(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    client->r = r;
    client->limit = hlcf->tail_buffer;
    client->last_write = ngx_current_msec;
    ngx_memcpy(client->key_hash, ctx->key_hash, HOOKD_KEY_HASH_LEN);
    client->finish.handler = ngx_http_hookd_tail_finish;
    client->finish.data = client;
    client->finish.log = r->connection->log;

    cln->handler = ngx_http_hookd_tail_cleanup;
    cln->data = client;
    ctx->tail_client = client;

    if (json_is_object(labels) && json_object_size(labels)) {
        client->labels = json_incref(labels);
    }

    if (json_is_number(expires)) {
        client->has_expiry = 1;
        client->expires = ngx_current_msec
                          + (ngx_msec_t) ngx_max(json_number_value(expires)
                                                 * 1000, 0);
    }

    ngx_str_set(&type, "text/event-stream");
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = type;
    r->headers_out.content_type_len = type.len;
    r->headers_out.content_length_n = -1;
    ctx->own_response = 1;

    ngx_str_set(&type, "no-cache");
    if (ngx_http_hookd_add_header(r, "Cache-Control", &type) != NGX_OK) {
        json_decref(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&type, "no");
    if (ngx_http_hookd_add_header(r, "X-Accel-Buffering", &type) != NGX_OK) {
        json_decref(reply);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK) {
        json_decref(reply);
        return rc;
    }

    /* a client that goes away ends its stream at once */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_hookd_tail_write;

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        json_decref(reply);
        return NGX_ERROR;
    }

    if (json_is_true(json_object_get(reply, "gap"))) {
        (void) ngx_http_hookd_tail_event(client, "gap",
                   "{\"message\": \"more than %d messages were stored "
                   "since Last-Event-ID; list /events and /deliveries for "
                   "the older ones\"}", NGX_HTTP_HOOKD_TAIL_DEPTH);
    }

    /* PostgreSQL's replay, and its ids, which the live messages may repeat */
    if (json_array_size(replay)) {
        client->seen = ngx_alloc(json_array_size(replay)
                                 * NGX_HTTP_HOOKD_TAIL_ID_LEN,
                                 r->connection->log);
        if (client->seen == NULL) {
            json_decref(reply);
            return NGX_ERROR;
        }

        client->seen_until = ngx_current_msec + 10000;
    }

    json_array_foreach(replay, i, m) {
        if (json_unpack(m, "{s:s, s:s, s:s}", "id", &id, "event", &event,
                        "data", &data) != 0
            || ngx_http_hookd_tail_format(&msg, id, ngx_strlen(id), event,
                                          data, ngx_strlen(data)) != NGX_OK)
        {
            continue;
        }

        rc = ngx_http_hookd_tail_append(client, &client->pend,
                                        &client->pend_cap, msg.data,
                                        msg.len);
        ngx_free(msg.data);

        if (rc != NGX_OK) {
            json_decref(reply);
            return NGX_ERROR;
        }

        if (ngx_strlen(id) == NGX_HTTP_HOOKD_TAIL_ID_LEN) {
            ngx_memcpy(client->seen
                       + client->nseen * NGX_HTTP_HOOKD_TAIL_ID_LEN,
                       id, NGX_HTTP_HOOKD_TAIL_ID_LEN);
            client->nseen++;
        }
    }

    ngx_qsort(client->seen, client->nseen, NGX_HTTP_HOOKD_TAIL_ID_LEN,
              ngx_http_hookd_tail_id_cmp);

    /* live from here on */
    client->app = ngx_http_hookd_tail_app(&app_id, 1);
    json_decref(reply);

    if (client->app == NULL) {
        return NGX_ERROR;
    }

    ngx_queue_insert_tail(&client->app->clients, &client->queue);
    client->app->nclients++;
    client->app->labelled += (client->labels != NULL);
    client->registered = 1;

    /* and, from the ring, what committed since the resume's id, or since
       the request came */
    head = ngx_http_hookd_tail_head();
    from = ctx->tail_from;

    if (from < ngx_http_hookd_tail_floor()) {
        (void) ngx_http_hookd_tail_event(client, "gap",
                   "{\"message\": \"messages may have been missed; list "
                   "/events and /deliveries since Last-Event-ID\"}");
        from = head;
    }

    if (from < head) {
        f = ngx_calloc(sizeof(ngx_http_hookd_tail_fetch_t),
                       r->connection->log);
        if (f == NULL) {
            return NGX_ERROR;
        }

        f->replay = 1;
        f->client = client;

        if (ngx_http_hookd_tail_since(f, &client->app->id, from, head,
                                      &skipped) != NGX_OK)
        {
            ngx_free(f->lines);
            ngx_free(f);
            return NGX_ERROR;
        }

        if (skipped) {
            (void) ngx_http_hookd_tail_event(client, "gap",
                       "{\"message\": \"%ui messages since Last-Event-ID "
                       "are past the replay's depth (%d); list /events and "
                       "/deliveries for them\"}", skipped,
                       NGX_HTTP_HOOKD_TAIL_DEPTH);
        }

        if (f->len == 0) {
            ngx_free(f->lines);
            ngx_free(f);

        } else {
            client->replay = f;
            client->replaying = 1;

            if (ngx_http_hookd_tail_post(f) != NGX_OK) {
                client->replay = NULL;
                client->replaying = 0;
                ngx_free(f->lines);
                ngx_free(f);
                ngx_http_hookd_tail_end(client, "lagging");
                return NGX_DONE;
            }
        }
    }

    if (!client->replaying) {
        (void) ngx_http_hookd_tail_event(client, "ready",
                   "{\"app_id\": \"%V\"}", &client->app->id);
    }

    ngx_http_hookd_tail_flush(client);

    return NGX_DONE;
}


ngx_int_t
ngx_http_hookd_tail_format(ngx_str_t *out, const char *id, size_t id_len,
    const char *event, const char *data, size_t data_len)
{
    size_t  len;

    len = sizeof("id: \nevent: \ndata: \n\n") - 1 + id_len + ngx_strlen(event)
          + data_len;

    out->data = ngx_alloc(len, ngx_cycle->log);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    /* jsonb's text is one line: a data line holds all of it */
    out->len = ngx_sprintf(out->data, "id: %*s\nevent: %s\ndata: %*s\n\n",
                           id_len, id, event, data_len, data)
               - out->data;

    return NGX_OK;
}


/* a message without an id, which leaves the client's Last-Event-ID be */
static ngx_int_t
ngx_http_hookd_tail_event(ngx_http_hookd_tail_client_t *client,
    const char *event, const char *fmt, ...)
{
    u_char   buf[512], *p;
    va_list  args;

    p = ngx_snprintf(buf, sizeof(buf), "event: %s\ndata: ", event);

    va_start(args, fmt);
    p = ngx_vslprintf(p, buf + sizeof(buf) - 2, fmt, args);
    va_end(args);

    *p++ = '\n';
    *p++ = '\n';

    return ngx_http_hookd_tail_append(client, &client->pend, &client->pend_cap,
                                      buf, p - buf);
}


ngx_uint_t
ngx_http_hookd_tail_wants_labels(ngx_http_hookd_tail_client_t *client)
{
    return client->labels != NULL;
}


void
ngx_http_hookd_tail_message(ngx_http_hookd_tail_client_t *client,
    ngx_str_t *id, json_t *labels, ngx_str_t *msg)
{
    if (client->ending) {
        return;
    }

    if (client->labels && !ngx_http_hookd_tail_matches(labels, client->labels))
    {
        return;
    }

    if (client->nseen) {
        if ((ngx_msec_int_t) (client->seen_until - ngx_current_msec) <= 0) {
            ngx_free(client->seen);
            client->seen = NULL;
            client->nseen = 0;

        } else if (id->len == NGX_HTTP_HOOKD_TAIL_ID_LEN
                   && bsearch(id->data, client->seen, client->nseen,
                              NGX_HTTP_HOOKD_TAIL_ID_LEN,
                              ngx_http_hookd_tail_id_cmp) != NULL)
        {
            return;
        }
    }

    if (client->replaying) {
        if (ngx_http_hookd_tail_append(client, &client->held,
                                       &client->held_cap, msg->data, msg->len)
            != NGX_OK)
        {
            ngx_http_hookd_tail_drop(client, 0);
        }

        return;
    }

    /*
     * Sent once the fetch's rows are all in: one write for all of them;
     * sooner when they would fill half of its buffer, which is for a
     * client that does not read, not for one fetch's worth.
     */
    if (client->pend.len + msg->len > client->limit / 2) {
        ngx_http_hookd_tail_flush(client);
    }

    if (ngx_http_hookd_tail_append(client, &client->pend, &client->pend_cap,
                                   msg->data, msg->len)
        != NGX_OK)
    {
        ngx_http_hookd_tail_drop(client, 0);
    }
}


void
ngx_http_hookd_tail_send(ngx_http_hookd_tail_client_t *client, void *data)
{
    ngx_http_hookd_tail_flush(client);
}


void
ngx_http_hookd_tail_replayed(ngx_http_hookd_tail_client_t *client,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int rows)
{
    int                           row;
    json_t                       *labels;
    ngx_str_t                     app_id, msg;
    ngx_uint_t                    replayed;
    ngx_http_hookd_tail_fetch_t  *f = client->replay;

    client->replay = NULL;
    client->replaying = 0;
    ngx_free(f->lines);
    ngx_free(f);

    if (client->ending) {
        return;
    }

    if (rc != NGX_HTTP_HOOKD_JOB_OK) {
        ngx_http_hookd_tail_end(client, "lagging");
        return;
    }

    replayed = 0;

    for (row = 0; row < rows; row++) {
        app_id.data = (u_char *) PQgetvalue(res, row, 0);
        app_id.len = PQgetlength(res, row, 0);

        if (app_id.len != client->app->id.len
            || ngx_memcmp(app_id.data, client->app->id.data, app_id.len) != 0)
        {
            continue;
        }

        if (client->labels) {
            labels = json_loads(PQgetvalue(res, row, 3), 0, NULL);

            if (!ngx_http_hookd_tail_matches(labels, client->labels)) {
                json_decref(labels);
                continue;
            }

            json_decref(labels);
        }

        if (ngx_http_hookd_tail_format(&msg, PQgetvalue(res, row, 1),
                                       PQgetlength(res, row, 1),
                                       PQgetvalue(res, row, 2),
                                       PQgetvalue(res, row, 4),
                                       PQgetlength(res, row, 4))
            != NGX_OK
            || ngx_http_hookd_tail_append(client, &client->pend,
                                          &client->pend_cap, msg.data,
                                          msg.len) != NGX_OK)
        {
            ngx_http_hookd_tail_drop(client, 0);
            return;
        }

        ngx_free(msg.data);
        replayed++;
    }

    if (ngx_http_hookd_tail_event(client, "ready",
            "{\"app_id\": \"%V\", \"replayed\": %ui}", &client->app->id,
            replayed) != NGX_OK
        || (client->held.len
            && ngx_http_hookd_tail_append(client, &client->pend,
                                          &client->pend_cap,
                                          client->held.data,
                                          client->held.len) != NGX_OK))
    {
        ngx_http_hookd_tail_drop(client, 0);
        return;
    }

    client->held.len = 0;
    ngx_http_hookd_tail_flush(client);
}


/* every label the client is narrowed to, with its value */
static ngx_uint_t
ngx_http_hookd_tail_matches(json_t *have, json_t *want)
{
    json_t      *v, *w;
    const char  *key;

    if (!json_is_object(have)) {
        return 0;
    }

    json_object_foreach(want, key, w) {
        v = json_object_get(have, key);

        if (!json_is_string(v) || !json_equal(v, w)) {
            return 0;
        }
    }

    return 1;
}


/* past the client's buffer: NGX_DECLINED, and the client is to be dropped */
static ngx_int_t
ngx_http_hookd_tail_append(ngx_http_hookd_tail_client_t *client,
    ngx_str_t *to, size_t *cap, const u_char *data, size_t len)
{
    u_char  *p;
    size_t   size;

    if (client->pend.len + client->held.len + len > client->limit) {
        return NGX_DECLINED;
    }

    if (to->len + len > *cap) {
        size = ngx_min(ngx_max(*cap * 2, to->len + len + 4096),
                       client->limit + 4096);

        p = ngx_alloc(size, client->r->connection->log);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (to->data) {
            ngx_memcpy(p, to->data, to->len);
            ngx_free(to->data);
        }

        to->data = p;
        *cap = size;
    }

    ngx_memcpy(to->data + to->len, data, len);
    to->len += len;

    return NGX_OK;
}


/*
 * Hands nginx what is pending, once it sent what it had: the pending and
 * the sent buffers then change places.
 */
static void
ngx_http_hookd_tail_flush(ngx_http_hookd_tail_client_t *client)
{
    u_char                    *swap;
    size_t                     swap_cap;
    ngx_int_t                  rc;
    ngx_http_request_t        *r = client->r;
    ngx_http_core_loc_conf_t  *clcf;

    if (client->sending || client->pend.len == 0 || client->finish.posted) {
        return;
    }

    swap = client->out;
    swap_cap = client->out_cap;
    client->out = client->pend.data;
    client->out_cap = client->pend_cap;

    ngx_memzero(&client->out_buf, sizeof(ngx_buf_t));
    client->out_buf.pos = client->out;
    client->out_buf.last = client->out + client->pend.len;
    client->out_buf.memory = 1;
    client->out_buf.flush = 1;
    client->out_cl.buf = &client->out_buf;
    client->out_cl.next = NULL;

    client->pend.data = swap;
    client->pend_cap = swap_cap;
    client->pend.len = 0;
    client->last_write = ngx_current_msec;

    rc = ngx_http_output_filter(r, &client->out_cl);

    if (rc == NGX_ERROR) {
        ngx_http_hookd_tail_drop(client, 0);
        return;
    }

    if (r->connection->buffered & NGX_HTTP_WRITE_BUFFERED) {
        client->sending = 1;
        clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

        if (!r->connection->write->delayed) {
            ngx_add_timer(r->connection->write, clcf->send_timeout);
        }

        if (ngx_handle_write_event(r->connection->write, clcf->send_lowat)
            != NGX_OK)
        {
            ngx_http_hookd_tail_drop(client, 0);
        }
    }
}


static void
ngx_http_hookd_tail_write(ngx_http_request_t *r)
{
    ngx_int_t                      rc;
    ngx_event_t                   *wev = r->connection->write;
    ngx_http_hookd_ctx_t          *ctx;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_hookd_tail_client_t  *client;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    client = ctx ? ctx->tail_client : NULL;

    if (client == NULL || client->finish_rc == NGX_DONE) {
        return;
    }

    if (wev->timedout) {
        r->connection->timedout = 1;
        ngx_http_hookd_tail_drop(client, 0);
        return;
    }

    if (!client->sending) {
        return;
    }

    rc = ngx_http_output_filter(r, NULL);

    if (rc == NGX_ERROR) {
        ngx_http_hookd_tail_drop(client, 0);
        return;
    }

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->connection->buffered & NGX_HTTP_WRITE_BUFFERED) {
        if (!wev->delayed) {
            ngx_add_timer(wev, clcf->send_timeout);
        }

        if (ngx_handle_write_event(wev, clcf->send_lowat) != NGX_OK) {
            ngx_http_hookd_tail_drop(client, 0);
        }

        return;
    }

    if (wev->timer_set) {
        ngx_del_timer(wev);
    }

    client->sending = 0;
    ngx_http_hookd_tail_flush(client);
}


void
ngx_http_hookd_tail_tick(ngx_http_hookd_tail_client_t *client, void *data)
{
    static const u_char  heartbeat[] = ": heartbeat\n\n";

    if (client->has_expiry
        && (ngx_msec_int_t) (client->expires - ngx_current_msec) <= 0)
    {
        ngx_http_hookd_tail_end(client, "expired");
        return;
    }

    if (ngx_current_msec - client->last_write >= NGX_HTTP_HOOKD_TAIL_HEARTBEAT
        && !client->sending)
    {
        if (ngx_http_hookd_tail_append(client, &client->pend,
                                       &client->pend_cap, heartbeat,
                                       sizeof(heartbeat) - 1) == NGX_OK)
        {
            ngx_http_hookd_tail_flush(client);
        }

        client->last_write = ngx_current_msec;
    }
}


void
ngx_http_hookd_tail_revoked(ngx_http_hookd_tail_client_t *client, void *data)
{
    if (ngx_memcmp(client->key_hash, data, HOOKD_KEY_HASH_LEN) == 0) {
        ngx_http_hookd_tail_end(client, "revoked");
    }
}


/* the stream says why it ends, then ends, from a posted event: never
   while the feed goes through the clients */
void
ngx_http_hookd_tail_end(ngx_http_hookd_tail_client_t *client,
    const char *reason)
{
    if (client->ending) {
        return;
    }

    ngx_http_hookd_tail_unregister(client);

    if (client->replaying) {
        client->replaying = 0;
        client->held.len = 0;
    }

    (void) ngx_http_hookd_tail_event(client, "end", "{\"reason\": \"%s\"}",
                                     reason);
    ngx_http_hookd_tail_flush(client);

    client->ending = 1;
    client->finish_rc = NGX_OK;
    ngx_post_event(&client->finish, &ngx_posted_events);
}


void
ngx_http_hookd_tail_drop(ngx_http_hookd_tail_client_t *client, ngx_uint_t now)
{
    ngx_http_request_t  *r = client->r;
    ngx_connection_t    *c = r->connection;

    if (now) {
        ngx_http_hookd_tail_unregister(client);
        client->ending = 1;

        if (client->finish.posted) {
            ngx_delete_posted_event(&client->finish);
        }

        ngx_http_free_request(r, 0);
        ngx_http_close_connection(c);
        return;
    }

    if (client->ending) {
        /* one that was to end well ends now, unless it already did */
        client->finish_rc = NGX_ERROR;
        return;
    }

    ngx_log_error(NGX_LOG_INFO, c->log, 0,
                  "hookd: a tail client is dropped: it did not read %uz "
                  "bytes", client->limit);

    ngx_http_hookd_tail_unregister(client);
    client->ending = 1;
    client->finish_rc = NGX_ERROR;
    ngx_post_event(&client->finish, &ngx_posted_events);
}


static void
ngx_http_hookd_tail_unregister(ngx_http_hookd_tail_client_t *client)
{
    if (!client->registered) {
        return;
    }

    ngx_queue_remove(&client->queue);
    client->app->nclients--;
    client->app->labelled -= (client->labels != NULL);
    client->registered = 0;
}


static void
ngx_http_hookd_tail_finish(ngx_event_t *ev)
{
    ngx_int_t                      rc;
    ngx_connection_t              *c;
    ngx_http_request_t            *r;
    ngx_http_hookd_tail_client_t  *client = ev->data;

    r = client->r;
    c = r->connection;
    rc = client->finish_rc;
    client->finish_rc = NGX_DONE;

    if (rc == NGX_OK) {
        /* what is still pending goes with the end of the stream; nginx
           finishes sending it */
        if (client->pend.len) {
            ngx_memzero(&client->out_buf, sizeof(ngx_buf_t));
            client->out_buf.pos = client->pend.data;
            client->out_buf.last = client->pend.data + client->pend.len;
            client->out_buf.memory = 1;
            client->out_cl.buf = &client->out_buf;
            client->out_cl.next = NULL;

            if (ngx_http_output_filter(r, &client->out_cl) == NGX_ERROR) {
                rc = NGX_ERROR;
            }
        }

        if (rc == NGX_OK) {
            rc = ngx_http_send_special(r, NGX_HTTP_LAST);
        }
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_hookd_tail_cleanup(void *data)
{
    ngx_http_hookd_ctx_t          *ctx;
    ngx_http_hookd_tail_client_t  *client = data;

    ctx = ngx_http_get_module_ctx(client->r, ngx_http_hookd_module);
    if (ctx) {
        ctx->tail_client = NULL;
    }

    ngx_http_hookd_tail_unregister(client);

    if (client->finish.posted) {
        ngx_delete_posted_event(&client->finish);
    }

    /* a replay in flight finds no client, and frees itself */
    if (client->replay) {
        client->replay->client = NULL;
        client->replay = NULL;
    }

    ngx_free(client->pend.data);
    ngx_free(client->held.data);
    ngx_free(client->out);
    ngx_free(client->seen);
    json_decref(client->labels);
}


static int ngx_libc_cdecl
ngx_http_hookd_tail_id_cmp(const void *a, const void *b)
{
    return ngx_memcmp(a, b, NGX_HTTP_HOOKD_TAIL_ID_LEN);
}

/*
 * GET /v1/apps/{app}/tail: one client's stream of Server-Sent Events
 * (docs/portal.md, "The live tail"). hookd.admin says who may tail what;
 * the stream then starts with what the client missed (from the worker's
 * ring, exactly, or from PostgreSQL with an overlap), and goes on with
 * what the feed (ngx_http_hookd_tail_feed.c) hands it, each message
 * checked against the client's labels. How a stream's bytes reach the
 * client, and how it ends, is ngx_http_hookd_tail_send.c.
 */

#include "ngx_http_hookd_tail.h"


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

    /*
     * What commits while the worker cannot LISTEN reaches no stream, and a
     * stream that started then would not know it missed it: the client
     * comes back once the feed is (with its Last-Event-ID, missing nothing).
     */
    if (!ngx_http_hookd_tail_live()) {
        return ngx_http_hookd_unavailable(r, "the live tail is reconnecting "
                   "to PostgreSQL; retry after Retry-After seconds, with "
                   "Last-Event-ID to miss nothing");
    }

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

            if (ngx_http_hookd_tail_post(f) != NGX_OK) {
                client->replay = NULL;
                ngx_free(f->lines);
                ngx_free(f);
                ngx_http_hookd_tail_end(client, "lagging");
                return NGX_DONE;
            }
        }
    }

    if (client->replay == NULL) {
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

    if (client->replay) {
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
ngx_http_hookd_tail_replayed(ngx_http_hookd_tail_client_t *client,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int rows)
{
    int                           row;
    json_t                       *labels;
    ngx_str_t                     app_id, msg;
    ngx_uint_t                    replayed;
    ngx_http_hookd_tail_fetch_t  *f = client->replay;

    client->replay = NULL;
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


static int ngx_libc_cdecl
ngx_http_hookd_tail_id_cmp(const void *a, const void *b)
{
    return ngx_memcmp(a, b, NGX_HTTP_HOOKD_TAIL_ID_LEN);
}

/*
 * What a tail stream sends and how it ends: the pending and the sent
 * buffers (the sent one nginx writes while the next fills), the drop of a
 * client that leaves hookd_tail_buffer unread, heartbeats and expiry from
 * the feed's tick, revocations, and the end of a stream, always from a
 * posted event so that no client is finalized while the feed walks them.
 */

#include "ngx_http_hookd_tail.h"


static void ngx_http_hookd_tail_unregister(
    ngx_http_hookd_tail_client_t *client);


/* a message without an id, which leaves the client's Last-Event-ID be */
ngx_int_t
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


void
ngx_http_hookd_tail_send(ngx_http_hookd_tail_client_t *client, void *data)
{
    ngx_http_hookd_tail_flush(client);
}


/* past the client's buffer: NGX_DECLINED, and the client is to be dropped */
ngx_int_t
ngx_http_hookd_tail_append(ngx_http_hookd_tail_client_t *client,
    ngx_str_t *to, size_t *cap, const u_char *data, size_t len)
{
    if (client->pend.len + client->held.len + len > client->limit) {
        return NGX_DECLINED;
    }

    if (ngx_http_hookd_tail_reserve(&to->data, to->len, cap, len,
                                    client->limit + 4096,
                                    client->r->connection->log) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_memcpy(to->data + to->len, data, len);
    to->len += len;

    return NGX_OK;
}


/*
 * Hands nginx what is pending, once it sent what it had: the pending and
 * the sent buffers then change places.
 */
void
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


void
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

    /* what waited for the replay is not sent: the client resumes */
    client->held.len = 0;

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


void
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


void
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

/*
 * What the hookd locations share about a request and its answer: the
 * per-request context, the API key and the body as read, JSON answers and
 * the contract's errors. Ingest, admin and the module's error filter use
 * these; they call nothing back.
 */

#include "ngx_http_hookd_module.h"



ngx_http_hookd_ctx_t *
ngx_http_hookd_get_ctx(ngx_http_request_t *r)
{
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_hookd_ctx_t));
        if (ctx == NULL) {
            return NULL;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_hookd_module);
    }

    return ctx;
}


/* Escapes for a JSON string; bytes outside ASCII become '?'. */
size_t
ngx_http_hookd_json_escape(u_char *dst, const u_char *src, size_t len)
{
    static const u_char  hex[] = "0123456789abcdef";
    size_t               n, i;

    n = 0;

    for (i = 0; i < len; i++) {
        u_char c = src[i];

        if (c == '"' || c == '\\') {
            if (dst) {
                dst[n] = '\\';
                dst[n + 1] = c;
            }
            n += 2;

        } else if (c < 0x20) {
            if (dst) {
                ngx_memcpy(dst + n, "\\u00", 4);
                dst[n + 4] = hex[c >> 4];
                dst[n + 5] = hex[c & 0xf];
            }
            n += 6;

        } else {
            if (dst) {
                dst[n] = c < 0x80 ? c : '?';
            }
            n++;
        }
    }

    return n;
}


u_char *
ngx_http_hookd_error_json(ngx_pool_t *pool, const char *code,
    const char *message, const char *hint, size_t *len)
{
    u_char  *json, *p;
    size_t   mlen, hlen;

    mlen = ngx_strlen(message);
    hlen = hint && hint[0] ? ngx_strlen(hint) : 0;

    json = ngx_pnalloc(pool, sizeof("{\"error\":{\"code\":\"\",\"message\":\"\"}}")
                             + ngx_strlen(code)
                             + ngx_http_hookd_json_escape(NULL,
                                   (u_char *) message, mlen)
                             + (hlen ? sizeof(",\"detail\":{\"hint\":\"\"}")
                                       + ngx_http_hookd_json_escape(NULL,
                                             (u_char *) hint, hlen)
                                     : 0));
    if (json == NULL) {
        return NULL;
    }

    p = ngx_sprintf(json, "{\"error\":{\"code\":\"%s\",\"message\":\"", code);
    p += ngx_http_hookd_json_escape(p, (u_char *) message, mlen);

    if (hlen) {
        p = ngx_cpymem(p, "\",\"detail\":{\"hint\":\"",
                       sizeof("\",\"detail\":{\"hint\":\"") - 1);
        p += ngx_http_hookd_json_escape(p, (u_char *) hint, hlen);
        *p++ = '"';
        *p++ = '}';
        *p++ = '}';
        *p++ = '}';

    } else {
        p = ngx_cpymem(p, "\"}}", 3);
    }

    *len = p - json;

    return json;
}


ngx_int_t
ngx_http_hookd_add_header(ngx_http_request_t *r, const char *name,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value = *value;

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_send_json(ngx_http_request_t *r, ngx_uint_t status,
    u_char *json, size_t len)
{
    ngx_int_t              rc;
    ngx_buf_t             *b;
    ngx_chain_t            out;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_hookd_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->own_response = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    if (status == NGX_HTTP_HOOKD_UNPROCESSABLE) {
        ngx_str_set(&r->headers_out.status_line, "422 Unprocessable Content");
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = json;
    b->last = json + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);
    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_int_t
ngx_http_hookd_send_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    return ngx_http_hookd_send_hint(r, status, code, message, NULL);
}


ngx_int_t
ngx_http_hookd_send_hint(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *hint)
{
    u_char  *json;
    size_t   len;

    json = ngx_http_hookd_error_json(r->pool, code, message, hint, &len);
    if (json == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_send_json(r, status, json, len);
}


ngx_int_t
ngx_http_hookd_reply(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message)
{
    return ngx_http_hookd_reply_hint(r, status, code, message, NULL);
}


ngx_int_t
ngx_http_hookd_reply_hint(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *message, const char *hint)
{
    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    return ngx_http_hookd_send_hint(r, status, code, message, hint);
}


ngx_int_t
ngx_http_hookd_get_key(ngx_http_request_t *r, ngx_str_t *key)
{
    ngx_str_t         v;
    ngx_table_elt_t  *h;

    if (r->headers_in.authorization) {
        v = r->headers_in.authorization->value;

        if (v.len <= sizeof("Bearer ") - 1
            || ngx_strncasecmp(v.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) != 0)
        {
            return NGX_DECLINED;
        }

        v.data += sizeof("Bearer ") - 1;
        v.len -= sizeof("Bearer ") - 1;

        while (v.len && v.data[0] == ' ') {
            v.data++;
            v.len--;
        }

    } else {
        h = ngx_http_hookd_find_header(r, "x-api-key", sizeof("x-api-key") - 1);
        if (h == NULL) {
            return NGX_DECLINED;
        }

        v = h->value;
    }

    if (!hookd_key_well_formed((char *) v.data, v.len)) {
        return NGX_DECLINED;
    }

    *key = v;

    return NGX_OK;
}


ngx_table_elt_t *
ngx_http_hookd_find_header(ngx_http_request_t *r, const char *name,
    size_t len)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == len
            && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0)
        {
            return &h[i];
        }
    }
}


ngx_int_t
ngx_http_hookd_json_content_type(ngx_http_request_t *r)
{
    ngx_str_t  *ct;

    if (r->headers_in.content_type == NULL) {
        return NGX_DECLINED;
    }

    ct = &r->headers_in.content_type->value;

    if (ct->len < sizeof("application/json") - 1
        || ngx_strncasecmp(ct->data, (u_char *) "application/json",
                           sizeof("application/json") - 1) != 0)
    {
        return NGX_DECLINED;
    }

    if (ct->len > sizeof("application/json") - 1
        && ct->data[sizeof("application/json") - 1] != ';'
        && ct->data[sizeof("application/json") - 1] != ' ')
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_hookd_body_flatten(ngx_http_request_t *r, ngx_str_t *body)
{
    u_char       *p;
    size_t        len;
    ngx_chain_t  *cl;

    if (r->request_body == NULL || r->request_body->bufs == NULL) {
        ngx_str_set(body, "");
        return NGX_OK;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->in_file) {
            /* hookd_max_payload sizes the body buffer: never reached */
            ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                          "hookd: request body was buffered to a file");
            return NGX_ERROR;
        }

        len += cl->buf->last - cl->buf->pos;
    }

    cl = r->request_body->bufs;

    if (cl->next == NULL) {
        body->data = cl->buf->pos;
        body->len = len;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    body->data = p;
    body->len = len;

    for ( /* void */ ; cl; cl = cl->next) {
        p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
    }

    return NGX_OK;
}


/* Finalizes from the PostgreSQL connection's event, not the request's. */
void
ngx_http_hookd_job_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_connection_t  *c = r->connection;

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


ngx_int_t
ngx_http_hookd_unavailable(ngx_http_request_t *r, const char *message)
{
    ngx_str_t  retry;

    ngx_str_set(&retry, "1");

    if (ngx_http_hookd_add_header(r, "Retry-After", &retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_reply(r, NGX_HTTP_SERVICE_UNAVAILABLE,
               "unavailable", message ? message
               : "the event store is unreachable; retry after Retry-After "
                 "seconds");
}


ngx_int_t
ngx_http_hookd_too_many(ngx_http_request_t *r, ngx_uint_t retry_after,
    const char *message)
{
    u_char     *p;
    ngx_str_t   value;

    p = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.data = p;
    value.len = ngx_sprintf(p, "%ui", retry_after) - p;

    if (ngx_http_hookd_add_header(r, "Retry-After", &value) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_reply(r, NGX_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                                message);
}


ngx_int_t
ngx_http_hookd_post_from_handler(ngx_http_request_t *r)
{
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_main_conf_t  *hmcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);
    ctx->job.data = r;

    /*
     * The reference is taken first: a send that fails inside
     * ngx_http_hookd_pool_post() completes the job, and finalizes the
     * request, before the call returns.
     */
    r->main->count++;

    if (ngx_http_hookd_pool_post(hmcf->pool, &ctx->job) != NGX_OK) {
        r->main->count--;
        return ngx_http_hookd_unavailable(r, NULL);
    }

    return NGX_DONE;
}


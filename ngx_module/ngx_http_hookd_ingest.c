/*
 * POST /v1/events: method, API key and rate limit (ngx_http_hookd_auth.c),
 * content type, body size and shape; then the event joins the worker's next
 * ingest batch and the 202 waits for its commit.
 */

#include "ngx_http_hookd_module.h"


static ngx_int_t ngx_http_hookd_ingest_authorized(ngx_http_request_t *r);
static void ngx_http_hookd_body_read(ngx_http_request_t *r);
static void ngx_http_hookd_ingested(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row);


ngx_int_t
ngx_http_hookd_ingest_handler(ngx_http_request_t *r)
{
    ngx_str_t  allow;

    if (r->method != NGX_HTTP_POST) {
        ngx_str_set(&allow, "POST");
        if (ngx_http_hookd_add_header(r, "Allow", &allow) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_hookd_reply(r, NGX_HTTP_NOT_ALLOWED,
                   "method_not_allowed", "events are sent with POST");
    }

    if (ngx_http_hookd_get_ctx(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_hookd_authenticate(r, NGX_HTTP_HOOKD_SCOPE_INGEST,
                                       ngx_http_hookd_ingest_authorized);
}


/* The key is good and within its rate: the headers, then the body. */
static ngx_int_t
ngx_http_hookd_ingest_authorized(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_table_elt_t       *h;
    ngx_http_hookd_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    if (ngx_http_hookd_json_content_type(r) != NGX_OK) {
        return ngx_http_hookd_reply(r,
                   NGX_HTTP_UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type",
                   "send the event with \"Content-Type: application/json\"");
    }

    h = ngx_http_hookd_find_header(r, "idempotency-key",
                                   sizeof("idempotency-key") - 1);
    if (h != NULL) {
        if (!hookd_valid_idempotency_key((char *) h->value.data,
                                         h->value.len))
        {
            return ngx_http_hookd_reply_hint(r, NGX_HTTP_BAD_REQUEST,
                       "invalid_event",
                       "Idempotency-Key must be 1 to 255 printable ASCII "
                       "characters without spaces",
                       "send a UUID, such as "
                       "\"Idempotency-Key: 7c9e6679-7425-40de-944b-e07fc1f90ae7\", "
                       "or another token of your own, the same on every retry "
                       "of one event");
        }

        ctx->idempotency_key = h->value;
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_hookd_body_read);
    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


static void
ngx_http_hookd_body_read(ngx_http_request_t *r)
{
    json_t                     *tree, *type;
    ngx_str_t                   body;
    ngx_int_t                   rc;
    hookd_validation_t          v;
    ngx_http_hookd_ctx_t       *ctx;
    ngx_http_hookd_loc_conf_t  *hlcf;

    if (ngx_http_hookd_body_flatten(r, &body) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    hlcf = ngx_http_get_module_loc_conf(r, ngx_http_hookd_module);
    tree = NULL;

    if (hookd_validate_event_tree((char *) body.data, body.len, &v,
                                  hlcf->classify ? &tree : NULL)
        != HOOKD_VALID)
    {
        rc = ngx_http_hookd_send_hint(r, NGX_HTTP_BAD_REQUEST,
                 v.verdict == HOOKD_INVALID_JSON
                 ? "invalid_json" : "invalid_event", v.message, v.hint);
        ngx_http_finalize_request(r, rc);
        return;
    }

    if (tree != NULL) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);
        type = json_object_get(tree, "event_type");
        hookd_classify_event(NULL, json_string_value(type),
                       json_string_length(type),
                       json_object_get(tree, "payload"), &ctx->cls);
        ctx->classified = 1;
        json_decref(tree);
    }

    rc = ngx_http_hookd_ingest_event(r, &body);
    if (rc != NGX_DONE) {
        ngx_http_hookd_job_finalize(r, rc);
    }
}


/*
 * An item of hookd.ingest's batch (sql/functions/ingest.sql): the event,
 * {"event_type", "payload", "labels"} as validated JSON text, of
 * ctx->app_id, with ctx->idempotency_key in ctx->source's namespace, and
 * the labels of its classification (ctx->cls) when it was classified.
 * NGX_DONE: posted, the 202 (or the refusal) is answered once its batch
 * committed; otherwise what to finalize the request with.
 */
ngx_int_t
ngx_http_hookd_ingest_event(ngx_http_request_t *r, ngx_str_t *event)
{
    u_char                      *p;
    size_t                       len;
    ngx_http_hookd_ctx_t        *ctx;
    ngx_http_hookd_main_conf_t  *hmcf;
    unsigned char                hash[HOOKD_KEY_HASH_LEN];

    ctx = ngx_http_get_module_ctx(r, ngx_http_hookd_module);

    len = sizeof("{\"app_id\":\"\",\"idempotency_key\":,"
                 "\"request_hash\":\"\",\"source\":,\"body\":}") - 1
          + ctx->app_id.len + 2 * HOOKD_KEY_HASH_LEN + event->len
          + (ctx->source.len ? ctx->source.len + 2 : sizeof("null") - 1)
          + (ctx->classified
             ? sizeof(",\"classes\":{\"hookd.provider\":\"\","
                      "\"hookd.category\":\"\"}") - 1
               + ngx_strlen(ctx->cls.provider)
               + ngx_strlen(hookd_category_name(ctx->cls.category))
             : 0)
          + (ctx->idempotency_key.len
             ? 2 + ngx_http_hookd_json_escape(NULL, ctx->idempotency_key.data,
                                              ctx->idempotency_key.len)
             : sizeof("null") - 1);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->job.param.data = p;

    p = ngx_sprintf(p, "{\"app_id\":\"%V\",\"idempotency_key\":",
                    &ctx->app_id);

    if (ctx->idempotency_key.len) {
        *p++ = '"';
        p += ngx_http_hookd_json_escape(p, ctx->idempotency_key.data,
                                        ctx->idempotency_key.len);
        *p++ = '"';

    } else {
        p = ngx_cpymem(p, "null", 4);
    }

    hookd_key_hash((char *) event->data, event->len, hash);

    p = ngx_cpymem(p, ",\"request_hash\":\"",
                   sizeof(",\"request_hash\":\"") - 1);
    hookd_key_hash_hex(hash, (char *) p);
    p += 2 * HOOKD_KEY_HASH_LEN;

    /* source ids come from a checked alphabet: no escaping */
    if (ctx->source.len) {
        p = ngx_sprintf(p, "\",\"source\":\"%V\"", &ctx->source);
    } else {
        p = ngx_cpymem(p, "\",\"source\":null", sizeof("\",\"source\":null") - 1);
    }

    /* the classifier's names come from its own tables: no escaping */
    if (ctx->classified) {
        p = ngx_sprintf(p, ",\"classes\":{\"hookd.provider\":\"%s\","
                        "\"hookd.category\":\"%s\"}", ctx->cls.provider,
                        hookd_category_name(ctx->cls.category));
    }

    p = ngx_cpymem(p, ",\"body\":", sizeof(",\"body\":") - 1);
    p = ngx_cpymem(p, event->data, event->len);
    *p++ = '}';

    ctx->job.param.len = p - ctx->job.param.data;
    ctx->job.stmt = NGX_HTTP_HOOKD_STMT_INGEST;
    ctx->job.handler = ngx_http_hookd_ingested;
    ctx->job.data = r;

    hmcf = ngx_http_get_module_main_conf(r, ngx_http_hookd_module);

    if (ngx_http_hookd_pool_post(hmcf->pool, &ctx->job) != NGX_OK) {
        return ngx_http_hookd_unavailable(r, NULL);
    }

    return NGX_DONE;
}


static void
ngx_http_hookd_ingested(ngx_http_hookd_job_t *job,
    ngx_http_hookd_job_rc_e rc, PGresult *res, int row)
{
    u_char              *json, *p;
    size_t               len;
    ngx_int_t            status;
    ngx_str_t            replayed;
    const char          *outcome, *id, *type, *received;
    ngx_http_request_t  *r = job->data;

    if (rc == NGX_HTTP_HOOKD_JOB_UNAVAILABLE) {
        status = ngx_http_hookd_unavailable(r,
                     "the event store became unreachable and the event was "
                     "not acknowledged; retry it (with an Idempotency-Key "
                     "to avoid a duplicate)");
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    if (rc != NGX_HTTP_HOOKD_JOB_OK) {
        status = ngx_http_hookd_send_error(r, NGX_HTTP_INTERNAL_SERVER_ERROR,
                     "internal",
                     "storing the event failed; see the nginx error log");
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    outcome = PQgetvalue(res, row, 1);

    if (ngx_strcmp(outcome, "conflict") == 0) {
        status = ngx_http_hookd_send_error(r, NGX_HTTP_CONFLICT,
                     "idempotency_conflict",
                     "this Idempotency-Key was already used with a different "
                     "body; use a new key for a new event");
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    if (ngx_strcmp(outcome, "no_application") == 0) {
        status = ngx_http_hookd_send_error(r, NGX_HTTP_FORBIDDEN, "forbidden",
                                           PQgetvalue(res, row, 5));
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    /* this item alone failed in a shared batch; the message says why */
    if (ngx_strcmp(outcome, "invalid") == 0) {
        status = ngx_http_hookd_send_hint(r, NGX_HTTP_BAD_REQUEST,
                                          "invalid_event",
                                          PQgetvalue(res, row, 5),
                                          PQgetvalue(res, row, 6));
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    /* the application enforces registered types; the message says how */
    if (ngx_strcmp(outcome, "unknown_type") == 0
        || ngx_strcmp(outcome, "schema_mismatch") == 0)
    {
        status = ngx_http_hookd_send_hint(r, NGX_HTTP_HOOKD_UNPROCESSABLE,
                     outcome[0] == 'u' ? "unknown_event_type"
                                       : "schema_mismatch",
                     PQgetvalue(res, row, 5), PQgetvalue(res, row, 6));
        ngx_http_hookd_job_finalize(r, status);
        return;
    }

    if (ngx_strcmp(outcome, "replayed") == 0) {
        ngx_str_set(&replayed, "true");
        if (ngx_http_hookd_add_header(r, "Idempotent-Replayed", &replayed)
            != NGX_OK)
        {
            ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    id = PQgetvalue(res, row, 2);
    type = PQgetvalue(res, row, 3);
    received = PQgetvalue(res, row, 4);

    /* ids, types and timestamps come from a checked alphabet: no escaping */
    len = sizeof("{\"id\":\"\",\"event_type\":\"\",\"received_at\":\"\"}") - 1
          + ngx_strlen(id) + ngx_strlen(type) + ngx_strlen(received);

    json = ngx_pnalloc(r->pool, len);
    if (json == NULL) {
        ngx_http_hookd_job_finalize(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = ngx_sprintf(json, "{\"id\":\"%s\",\"event_type\":\"%s\","
                    "\"received_at\":\"%s\"}", id, type, received);

    status = ngx_http_hookd_send_json(r, NGX_HTTP_ACCEPTED, json, p - json);
    ngx_http_hookd_job_finalize(r, status);
}
